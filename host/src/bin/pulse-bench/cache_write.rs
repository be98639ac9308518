//! Write throughput. Pulse's cache writer stores a batch of `--keys` entries (one cycle at
//! 10,000 symbols writes about that many `analysis:breakdown:<SYMBOL>` keys), and, on the same
//! memcached in the same run, a raw burst sends the same keys as ASCII `set … noreply` in one
//! write followed by one `mn` barrier: the fastest a single connection can go, with no per-key
//! answer. The ratio of the two is the writer's efficiency.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use pulse::cache::{CacheWriter, Fence, Placement};
use pulse::shared::entry::ValidEntry;

use serde_json::{json, Value};

use crate::harness::percentiles;
use crate::Options;

/// Runs the scenario: 10,000 keys of 200 bytes, 40 rounds (`--quick`: 100 keys, 2 rounds).
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let (keys, value_bytes, rounds) = if options.quick {
        (100, 200, 2)
    } else {
        (10_000, 200, 40)
    };
    let entries: Vec<ValidEntry> = (0..keys)
        .map(|i| ValidEntry {
            key: format!("bench:write:SYM{i:05}USDT"),
            value: format!("{{\"v\":\"{}\"}}", "x".repeat(value_bytes - 8)).into_bytes(),
            ttl: 10,
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let mut writer = runtime.block_on(CacheWriter::connect(
        Placement::new(vec![options.memcached.clone()], false),
        Duration::from_secs(5),
    ))?;
    let mut raw = TcpStream::connect(&options.memcached)?;
    raw.set_nodelay(true)?;
    let burst = raw_burst(&entries);

    let (mut pulse_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        let report = runtime.block_on(writer.write(&entries, Fence::open()));
        pulse_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if report.failed > 0 {
            bail!("the writer failed {} entries: {:?}", report.failed, report.first_error);
        }
        let started = Instant::now();
        send_raw(&mut raw, &burst)?;
        raw_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (pulse_p50, pulse_p99, _) = percentiles(&mut pulse_ms);
    let (raw_p50, raw_p99, _) = percentiles(&mut raw_ms);
    let rate = |ms: f64| keys as f64 / ms * 1000.0;
    let result = json!({
        "scenario": "cache-write",
        "keys": keys,
        "value_bytes": value_bytes,
        "rounds": rounds,
        "pulse_keys_per_s": rate(pulse_p50),
        "pulse_batch_ms_p50": pulse_p50,
        "pulse_batch_ms_p99": pulse_p99,
        "raw_keys_per_s": rate(raw_p50),
        "raw_batch_ms_p50": raw_p50,
        "raw_batch_ms_p99": raw_p99,
        "ratio_pulse_to_raw": raw_p50 / pulse_p50,
    });
    eprintln!(
        "cache-write: Pulse {:.0} keys/s, raw burst {:.0} keys/s, ratio {:.2} (goal >= 0.7)",
        rate(pulse_p50),
        rate(raw_p50),
        raw_p50 / pulse_p50
    );
    Ok(vec![result])
}

/// The whole batch as one buffer of ASCII `set … noreply` commands plus a `mn` barrier.
fn raw_burst(entries: &[ValidEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * (entries[0].value.len() + 64));
    for e in entries {
        out.extend_from_slice(format!("set {} 0 {} {} noreply\r\n", e.key, e.ttl, e.value.len()).as_bytes());
        out.extend_from_slice(&e.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"mn\r\n");
    out
}

/// Sends a burst and waits for the barrier's `MN`.
fn send_raw(stream: &mut TcpStream, burst: &[u8]) -> Result<()> {
    stream.write_all(burst)?;
    let mut reply = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"MN\r\n") {
        let n = stream.read(&mut reply)?;
        if n == 0 {
            bail!("memcached closed the connection during the raw burst");
        }
        got.extend_from_slice(&reply[..n]);
    }
    if got != b"MN\r\n" {
        bail!("the raw burst got errors: {}", String::from_utf8_lossy(&got));
    }
    Ok(())
}
