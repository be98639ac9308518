//! The real parts every scenario runs against.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use memcache::exp::MetaClient;

/// A memcached of the benchmark's own; killed on drop.
pub struct Memcached {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Memcached {
    /// Starts memcached on a free loopback port and waits until it answers.
    pub fn start() -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("memcached")
            .args([
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "0",
                "-m",
                "256",
                "-u",
                "root",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start memcached; install it with `apt-get install -y memcached` or run scripts/setup")?;
        let addr = format!("127.0.0.1:{port}");
        wait_until("memcached to listen", Duration::from_secs(10), || {
            TcpStream::connect(&addr).is_ok()
        })?;
        Ok(Self { child, addr })
    }

    /// A client for reading back what the daemon wrote.
    pub fn client(&self) -> Result<MetaClient> {
        Ok(MetaClient::builder()
            .io_timeout(Some(Duration::from_secs(1)))
            .connect(self.addr.as_str())?)
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release `pulse` daemon; stopped on drop.
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
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start pulse")?;
        Ok(Self { child, log })
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's root (the benchmark is run from its build tree).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `target/release/pulse`, which must be built first.
fn pulse_binary() -> Result<PathBuf> {
    let path = repo_root().join("target/release/pulse");
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo build --release -p pulse` first",
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

/// Median, 95th percentile and maximum of `samples`, in milliseconds.
pub fn summary(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn summary_reads_median_p95_and_max_from_unsorted_samples() {
        let mut samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(summary(&mut samples), (51.0, 95.0, 100.0));
        assert_eq!(summary(&mut [7.0]), (7.0, 7.0, 7.0));
    }
}
