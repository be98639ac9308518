//! The real parts every scenario runs against, and small measuring helpers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use memcache::exp::MetaClient;
pub use pulse_testkit::{repo_root, Daemon, Memcached};
use pulse_testkit::{Caches, Launch};
use serde_json::{json, Value};

/// A memcached of the benchmark's own on a free loopback port, with 1 GiB for its items.
pub fn memcached() -> Result<Memcached> {
    Memcached::try_start_free(&["-m", "1024"]).map_err(anyhow::Error::msg)
}

/// A client for reading back what the daemon wrote.
pub fn client(addr: &str) -> Result<MetaClient> {
    Ok(MetaClient::builder()
        .io_timeout(Some(Duration::from_secs(1)))
        .connect(addr)?)
}

/// Starts `pulse run` with `args`, logging to `log`, as `pulse_testkit` starts a daemon: a
/// status port and a state folder of its own unless `args` name them, and the benchmark's
/// compile cache and host key (kept across runs, so a warm start is warm).
pub fn start_daemon(log: PathBuf, args: &[&str]) -> Result<Daemon> {
    Daemon::launch(Launch {
        args,
        log: Some(log),
        caches: Caches::Bench,
        ..Launch::default()
    })
    .map_err(anyhow::Error::msg)
}

/// The built component of plugin crate `name`.
pub fn plugin_wasm(name: &str) -> Result<PathBuf> {
    pulse_testkit::try_plugin_wasm(name).map_err(anyhow::Error::msg)
}

/// The built component of fixture example `name` (`plugins/fixtures/*/examples/`).
pub fn fixture_wasm(name: &str) -> Result<PathBuf> {
    pulse_testkit::try_fixture_wasm(name).map_err(anyhow::Error::msg)
}

/// Writes `count` (at most 100) distinct analyzers running `trend`'s analysis into `dir`:
/// copies of `bench-analyzer` whose name (the `00` of `bench-analyzer-00`, which the file holds
/// once) is rewritten to `00`, `01`, ... Returns their names.
pub fn bench_analyzers(dir: &Path, count: usize) -> Result<Vec<String>> {
    bench_analyzers_of(&fixture_wasm("bench_analyzer")?, dir, count)
}

/// [`bench_analyzers`], of the build at `built` (today's, or an older contract's kept in
/// `tests/fixtures`).
pub fn bench_analyzers_of(built: &Path, dir: &Path, count: usize) -> Result<Vec<String>> {
    const NAME: &[u8] = b"bench-analyzer-00";
    let wasm = std::fs::read(built)?;
    let places: Vec<usize> = (0..=wasm.len().saturating_sub(NAME.len()))
        .filter(|&i| wasm[i..i + NAME.len()] == *NAME)
        .collect();
    let [at] = places[..] else {
        bail!("bench_analyzer.wasm holds its name {} times, not once", places.len());
    };
    (0..count.min(100))
        .map(|i| {
            let name = format!("bench-analyzer-{i:02}");
            let mut copy = wasm.clone();
            copy[at..at + NAME.len()].copy_from_slice(name.as_bytes());
            std::fs::write(dir.join(format!("{name}.wasm")), copy)?;
            Ok(name)
        })
        .collect()
}

/// A temporary plugin directory with the bundled plugins.
pub fn bundled_plugins() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    for name in ["trend", "volatility", "dashboard"] {
        std::fs::copy(plugin_wasm(name)?, dir.path().join(format!("{name}.wasm")))?;
    }
    Ok(dir)
}

/// Polls `done` every millisecond until it holds, or fails after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<Duration> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(start.elapsed())
}

/// Median, 99th percentile and maximum of `samples`.
pub fn percentiles(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), at(1.0))
}

/// Peak resident memory of this process so far, in bytes (`VmHWM`).
pub fn peak_rss_bytes() -> u64 {
    pulse_testkit::status_bytes(std::process::id(), "VmHWM:").unwrap_or(0)
}

/// Peak resident memory of `daemon` so far, in bytes (`VmHWM`).
pub fn daemon_peak_rss_bytes(daemon: &Daemon) -> Result<u64> {
    pulse_testkit::status_bytes(daemon.pid(), "VmHWM:").map_err(anyhow::Error::msg)
}

/// Cores and CPU model of this machine.
pub fn machine() -> Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu_model": model,
    })
}

#[cfg(test)]
mod tests {
    use super::percentiles;

    #[test]
    fn percentiles_read_median_p99_and_max_from_unsorted_samples() {
        let mut samples: Vec<f64> = (1..=101).rev().map(f64::from).collect();
        assert_eq!(percentiles(&mut samples), (51.0, 100.0, 101.0));
        assert_eq!(percentiles(&mut [7.0]), (7.0, 7.0, 7.0));
    }
}
