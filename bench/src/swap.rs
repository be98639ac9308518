//! Hot-swap latency. The daemon serves `trend`; the benchmark renames a new version over it
//! (write to a hidden temp file, then `mv`), and times how long until `analysis:signals`
//! shows the new version's output. The daemon's own log gives the staging time of each swap
//! (compile or compile-cache load, `describe`, `init`, trial call).
//!
//! End-to-end latency is the debounce (250 ms) + staging + the wait for the next cycle
//! boundary, which is up to one interval; the renames are spread evenly over the interval's
//! phase, so the median wait is about half an interval. Run it at several intervals to see
//! each part.

use std::time::Duration;

use anyhow::{Context, Result};
use memcache::exp::MetaClient;

use crate::harness::{plugin_wasm, summary, wait_until, Daemon, Memcached};

/// Options of the swap scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many swaps (alternating between two versions).
    #[arg(long, default_value_t = 20)]
    swaps: usize,
    /// Cycle interval of the daemon, in seconds.
    #[arg(long, default_value_t = 2.0)]
    interval: f64,
}

/// Which `trend` served the latest `analysis:signals`: `true` for the test double (2.0.0).
fn serving_v2(client: &MetaClient) -> Option<bool> {
    let value = client.get("analysis:signals").send().ok()?.value?;
    let signals: serde_json::Value = serde_json::from_slice(&value).ok()?;
    Some(signals["signals"][0]["components"]["trend"].get("v2_marker").is_some())
}

/// Runs the scenario and prints its results.
pub fn run(args: &Args) -> Result<()> {
    let memcached = Memcached::start()?;
    let client = memcached.client()?;
    let plugins = tempfile::tempdir()?;
    let cache = tempfile::tempdir()?;
    for name in ["trend", "volatility", "dashboard"] {
        std::fs::copy(plugin_wasm(name)?, plugins.path().join(format!("{name}.wasm")))?;
    }
    let versions = [
        std::fs::read(plugin_wasm("trend_v2")?)?,
        std::fs::read(plugin_wasm("trend")?)?,
    ];
    let log = plugins.path().join(".pulse.log");
    let interval = args.interval.to_string();
    let daemon = Daemon::start(
        log,
        &[
            "--plugins",
            plugins.path().to_str().context("temp path is not UTF-8")?,
            "--memcached",
            &memcached.addr,
            "--interval",
            &interval,
            "--compile-cache",
            cache.path().to_str().context("temp path is not UTF-8")?,
        ],
    )?;
    let timeout = Duration::from_secs_f64(args.interval * 3.0 + 10.0);
    wait_until("the first cycle", timeout, || serving_v2(&client) == Some(false))?;

    let mut latencies = Vec::with_capacity(args.swaps);
    for swap in 0..args.swaps {
        // Each swap just follows a cycle; sweep the rename's phase evenly across the interval,
        // so the wait for the next cycle boundary is sampled fairly instead of always ~0.
        std::thread::sleep(Duration::from_secs_f64(args.interval * swap as f64 / args.swaps as f64));
        let to_v2 = swap % 2 == 0;
        let tmp = plugins.path().join(".trend.wasm.tmp");
        std::fs::write(&tmp, &versions[swap % 2])?;
        std::fs::rename(&tmp, plugins.path().join("trend.wasm"))?;
        let took = wait_until("the new version to serve", timeout, || {
            serving_v2(&client) == Some(to_v2)
        })?;
        latencies.push(took.as_secs_f64() * 1000.0);
    }

    let (mut compiled, mut cached) = (Vec::new(), Vec::new());
    for line in daemon.log().lines().filter(|l| l.contains("swapped plugin trend")) {
        let ms: f64 = line
            .split("staging_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .context("a swap log line without staging_ms")?
            .parse()?;
        if line.contains("from compile cache") {
            cached.push(ms);
        } else {
            compiled.push(ms);
        }
    }
    println!("### Hot swap ({} swaps, interval {} s)\n", args.swaps, args.interval);
    println!("| measure | n | median ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, samples: &mut Vec<f64>| {
        if !samples.is_empty() {
            let (median, p95, max) = summary(samples);
            println!("| {name} | {} | {median:.1} | {p95:.1} | {max:.1} |", samples.len());
        }
    };
    row("rename → first cycle served by the new version", &mut latencies);
    row("staging, compiled", &mut compiled);
    row("staging, from compile cache", &mut cached);
    Ok(())
}
