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

use serde_json::{json, Value};

use crate::harness::{bundled_plugins, client, percentiles, plugin_wasm, start_daemon, wait_until};
use crate::Options;

/// Which `trend` served the latest `analysis:signals`: `true` for the test double (2.0.0).
fn serving_v2(client: &MetaClient) -> Option<bool> {
    let value = client.get("analysis:signals").send().ok()?.value?;
    let signals: serde_json::Value = serde_json::from_slice(&value).ok()?;
    Some(signals["signals"][0]["components"]["trend"].get("v2_marker").is_some())
}

/// Runs the scenario at a 2 s and a 0.25 s interval (20 swaps each; `--quick`: 2 at 0.25 s).
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let runs: &[(usize, f64)] = if options.quick {
        &[(2, 0.25)]
    } else {
        &[(20, 2.0), (20, 0.25)]
    };
    runs.iter()
        .map(|&(swaps, interval)| run_once(options, swaps, interval))
        .collect()
}

fn run_once(options: &Options, swaps: usize, interval: f64) -> Result<Value> {
    let client = client(&options.memcached)?;
    let plugins = bundled_plugins()?;
    let cache = tempfile::tempdir()?;
    let versions = [
        std::fs::read(plugin_wasm("trend_v2")?)?,
        std::fs::read(plugin_wasm("trend")?)?,
    ];
    let log = plugins.path().join(".pulse.log");
    let interval_text = interval.to_string();
    let daemon = start_daemon(
        log,
        &[
            "--plugins",
            plugins.path().to_str().context("temp path is not UTF-8")?,
            "--memcached",
            &options.memcached,
            "--interval",
            &interval_text,
            "--compile-cache",
            cache.path().to_str().context("temp path is not UTF-8")?,
        ],
    )?;
    let timeout = Duration::from_secs_f64(interval * 3.0 + 10.0);
    wait_until("the first cycle", timeout, || serving_v2(&client) == Some(false))?;

    let mut latencies = Vec::with_capacity(swaps);
    for swap in 0..swaps {
        // Each swap just follows a cycle; sweep the rename's phase evenly across the interval,
        // so the wait for the next cycle boundary is sampled fairly instead of always ~0.
        std::thread::sleep(Duration::from_secs_f64(interval * swap as f64 / swaps as f64));
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
    let stat = |samples: &mut Vec<f64>| {
        if samples.is_empty() {
            return Value::Null;
        }
        let (p50, p99, max) = percentiles(samples);
        json!({"n": samples.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max})
    };
    let result = json!({
        "scenario": "swap",
        "swaps": swaps,
        "interval_s": interval,
        "rename_to_served": stat(&mut latencies),
        "staging_compiled": stat(&mut compiled),
        "staging_cached": stat(&mut cached),
    });
    eprintln!("swap at {interval} s: {result}");
    Ok(result)
}
