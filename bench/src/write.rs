//! Write throughput. Pulse's cache writer stores a batch of `--keys` entries (one cycle at
//! 10,000 symbols writes about that many `analysis:breakdown:<SYMBOL>` keys), and, on the same
//! memcached in the same run, a raw burst sends the same keys as ASCII `set … noreply` in one
//! write followed by one `mn` barrier: the fastest a single connection can go, with no per-key
//! answer. The ratio of the two is the writer's efficiency.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use pulse::cache::{CacheWriter, Placement, ValidEntry};

use crate::harness::{summary, Memcached};

/// Options of the write scenario.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keys per batch.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 200)]
    value_bytes: usize,
    /// Batches timed per method.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
}

/// Runs the scenario and prints its results.
pub fn run(args: &Args) -> Result<()> {
    let memcached = Memcached::start()?;
    let entries: Vec<ValidEntry> = (0..args.keys)
        .map(|i| ValidEntry {
            key: format!("analysis:breakdown:SYM{i:05}USDT"),
            value: vec![b'x'; args.value_bytes],
            ttl: 10,
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let mut writer = runtime.block_on(CacheWriter::connect(
        Placement::new(vec![memcached.addr.clone()], false),
        Duration::from_secs(5),
    ))?;
    let mut raw = TcpStream::connect(&memcached.addr)?;
    raw.set_nodelay(true)?;
    let burst = raw_burst(&entries);

    let (mut pulse_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        let started = Instant::now();
        let report = runtime.block_on(writer.write(&entries));
        pulse_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if report.failed > 0 {
            bail!("the writer failed {} entries: {:?}", report.failed, report.first_error);
        }
        let started = Instant::now();
        send_raw(&mut raw, &burst)?;
        raw_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "### Cache write ({} keys x {} B, {} rounds, one memcached on loopback)\n",
        args.keys, args.value_bytes, args.rounds
    );
    println!("| method | median keys/s | median batch ms | p95 batch ms |");
    println!("|---|---|---|---|");
    let mut medians = Vec::new();
    for (name, samples) in [
        (
            "Pulse writer (meta protocol, pipelined, per-key replies)",
            &mut pulse_ms,
        ),
        ("raw `set … noreply` burst + one barrier", &mut raw_ms),
    ] {
        let (median, p95, _) = summary(samples);
        println!(
            "| {name} | {:.0} | {median:.1} | {p95:.1} |",
            args.keys as f64 / median * 1000.0
        );
        medians.push(median);
    }
    println!(
        "\nRatio Pulse / raw (keys/s): **{:.2}** (goal: at least 0.5).",
        medians[1] / medians[0]
    );
    Ok(())
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
