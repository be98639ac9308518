//! The real parts every scenario runs against, and small measuring helpers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use memcache::exp::MetaClient;
pub use pulse_testkit::Memcached;
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

/// A `pulse` daemon; stopped on drop.
pub struct Daemon {
    child: Child,
    /// Where it logs.
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `pulse run` with `args`, logging to `log`.
    pub fn start(log: PathBuf, args: &[&str]) -> Result<Self> {
        let child = Command::new(pulse_binary()?)
            .arg("run")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start pulse")?;
        Ok(Self { child, log })
    }

    /// Sends SIGTERM (the daemon saves its state and exits) and waits up to 10 s for it.
    pub fn stop(&mut self) -> Result<()> {
        self.signal("TERM")?;
        self.exited(Duration::from_secs(10))
    }

    /// Sends signal `name` (`TERM`, `KILL`, ...).
    pub fn signal(&self, name: &str) -> Result<()> {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .context("cannot run kill")?;
        if !sent.success() {
            bail!("kill -{name} failed: {sent}");
        }
        Ok(())
    }

    /// Waits up to `within` for the daemon to exit.
    pub fn exited(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("pulse did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its peak resident memory so far, in bytes (`VmHWM`).
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        vm_hwm_bytes(&status).context("no VmHWM in the daemon's /proc status")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's root (the benchmark runs from its build tree).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `pulse` binary built beside this one.
fn pulse_binary() -> Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("pulse");
    if !path.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --release -p pulse --features bench`",
            path.display()
        );
    }
    Ok(path)
}

/// The built component of plugin crate `name`.
pub fn plugin_wasm(name: &str) -> Result<PathBuf> {
    let path = repo_root().join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    if !path.is_file() {
        bail!("{} is missing: run scripts/build-plugins first", path.display());
    }
    Ok(path)
}

/// The built component of fixture example `name` (`plugins/fixtures/*/examples/`).
pub fn fixture_wasm(name: &str) -> Result<PathBuf> {
    let path = repo_root().join(format!("target/wasm32-wasip2/release/examples/{name}.wasm"));
    if !path.is_file() {
        bail!("{} is missing: run scripts/build-plugins first", path.display());
    }
    Ok(path)
}

/// Writes `count` (at most 100) distinct analyzers running `trend`'s analysis into `dir`:
/// copies of `bench-analyzer` whose name (the `00` of `bench-analyzer-00`, which the file holds
/// once) is rewritten to `00`, `01`, ... Returns their names.
pub fn bench_analyzers(dir: &Path, count: usize) -> Result<Vec<String>> {
    const NAME: &[u8] = b"bench-analyzer-00";
    let wasm = std::fs::read(fixture_wasm("bench_analyzer")?)?;
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
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| vm_hwm_bytes(&s))
        .unwrap_or(0)
}

/// `VmHWM` of a `/proc/PID/status` text, in bytes.
fn vm_hwm_bytes(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
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
