//! What a test or a benchmark reads of a running daemon from outside: its process's memory,
//! what it wrote to memcached, and waiting for either.

use std::time::{Duration, Instant};

use crate::Memcached;

/// Polls `check` until it returns `Some`, failing with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Resident memory of process `pid`, in bytes.
pub fn resident_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:").unwrap_or_else(|why| panic!("{why}"))
}

/// The most resident memory process `pid` has had (its high-water mark), in bytes.
pub fn peak_resident_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:").unwrap_or_else(|why| panic!("{why}"))
}

/// A `FIELD: N kB` line of `/proc/PID/status`, in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kib * 1024)
}

/// Every key the bundled plugins write for the market in `market:tickers`, plus the status.
pub fn dashboard_keys(memcached: &Memcached) -> Vec<String> {
    let tickers = memcached.json(pulse_keys::TICKERS);
    let mut keys: Vec<String> = [pulse_keys::STATUS]
        .into_iter()
        .chain(pulse_keys::FIXED_KEYS)
        .map(String::from)
        .collect();
    keys.extend(
        tickers
            .as_object()
            .unwrap()
            .keys()
            .map(|s| pulse_keys::breakdown_key(s)),
    );
    keys
}

/// The cycle number in `pulse:status`, if present.
pub fn status_cycle(memcached: &Memcached) -> Option<u64> {
    let bytes = memcached.get(pulse_keys::STATUS)?;
    let status: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    status["cycle"].as_u64()
}
