//! Every fault fixture loaded beside the bundled plugins in the release daemon for a minute:
//! the daemon's peak resident memory (what bounds it is in BENCHMARKS.md), and the size of its
//! log, which the plugin log budget and the daemon's own summaries keep bounded.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::harness::{
    bundled_plugins, client, daemon_peak_rss_bytes, fixture_wasm, repo_root, start_daemon, wait_until,
};
use crate::Options;

/// Grants the two fault aggregators that write, as the sandbox test does.
const CONFIG: &str = "[sandbox.plugin.fault-writer]\nkey_prefixes = [\"fault:\"]\n\
    [sandbox.plugin.fault-flood]\nkey_prefixes = [\"flood:\"]\nmemory_mib = 512\ncall_timeout_ms = 5000\n";

/// Runs for 60 s at a 1 s interval (`--quick`: 3 s).
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let seconds = if options.quick { 3 } else { 60 };
    let plugins = bundled_plugins()?;
    let faults = fault_fixtures()?;
    for (name, path) in &faults {
        std::fs::copy(path, plugins.path().join(format!("{name}.wasm")))
            .with_context(|| format!("{} is missing: run scripts/build-plugins first", path.display()))?;
    }
    let config = plugins.path().join(".pulse.toml");
    std::fs::write(&config, CONFIG)?;
    let client = client(&options.memcached)?;
    let _ = client.delete("pulse:status").send();
    let daemon = start_daemon(
        plugins.path().join(".pulse.log"),
        &[
            "--config",
            config.to_str().context("temp path is not UTF-8")?,
            "--plugins",
            plugins.path().to_str().context("temp path is not UTF-8")?,
            "--memcached",
            &options.memcached,
            "--interval",
            "1",
        ],
    )?;
    wait_until("the first push", Duration::from_secs(60), || {
        client.get("pulse:status").send().is_ok_and(|r| r.value.is_some())
    })?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let peak_rss = daemon_peak_rss_bytes(&daemon)?;
    let status: Value = client
        .get("pulse:status")
        .send()?
        .value
        .and_then(|v| serde_json::from_slice(&v).ok())
        .context("pulse:status is missing at the end of the run")?;
    let log = daemon.log();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    eprintln!(
        "faults: {} fixtures beside the bundled plugins, {} cycles: peak RSS {} MiB, log {} KiB in {} lines",
        faults.len(),
        status["cycle"],
        peak_rss >> 20,
        log.len() >> 10,
        log.lines().count()
    );
    Ok(vec![json!({
        "scenario": "faults",
        "fault_fixtures": faults.len(),
        "cycles": status["cycle"],
        "skipped_ticks": status["skipped_ticks"],
        "run_minutes": minutes,
        "peak_rss_bytes": peak_rss,
        "log_bytes": log.len(),
        "log_lines": log.lines().count(),
    })])
}

/// Every fault fixture the `faults` crate builds, read from its manifest: (name of the
/// component file, its path).
fn fault_fixtures() -> Result<Vec<(String, std::path::PathBuf)>> {
    let manifest = repo_root().join("plugins/fixtures/faults/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(&manifest)?.parse()?;
    let examples = manifest
        .get("example")
        .and_then(|e| e.as_array())
        .context("the faults manifest lists no [[example]]")?;
    examples
        .iter()
        .map(|example| {
            let name = example
                .get("name")
                .and_then(|n| n.as_str())
                .context("an [[example]] without a name")?
                .replace('-', "_");
            let path = fixture_wasm(&name)?;
            Ok((name, path))
        })
        .collect()
}
