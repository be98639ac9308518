//! `--scenario streaming`: a daemon streaming from a loopback exchange (`pulse_testkit`'s,
//! speaking Bybit's or Binance's documented APIs) at 30, 1,000 and 10,000 listed symbols at
//! the exchange's real push rate (Bybit: every symbol changes every 100 ms, ten messages a
//! second each; Binance: the whole ticker every second), the bundled plugins analysing the top
//! 30. It measures:
//! - freshness: each symbol's data age at each cycle's snapshot (the exchange's send time to
//!   the snapshot), read from `/stream` over ten cycles. The exchange's push schedule and the
//!   daemon's cycle keep their phase (the cycle is a whole number of push intervals), so after
//!   each sampled cycle the exchange's pushes are delayed by a tenth of the push interval: the
//!   ten cycles see the snapshot at ten phases of the push schedule, the worst among them;
//! - the cost of ingesting: the daemon's CPU time (user and system, cycles included) over 20 s
//!   in which nothing reads `/stream`, as a share of one core, and the messages it read.
//!
//! The loopback exchange runs in this process, on the same two cores: its own CPU is not
//! counted, but it competes with the daemon for the cores.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::harness::{bundled_plugins, daemon_peak_rss_bytes, percentiles, start_daemon, wait_until};
use crate::Options;
use pulse_testkit::exchange::{Dialect, LoopbackExchange};
use pulse_testkit::{http_get, scrape};

/// Linux reports a process's CPU time in `/proc/PID/stat` in ticks of 1/100 s (`USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

pub fn run(options: &Options) -> Result<Vec<Value>> {
    let counts: Vec<usize> = match (options.quick, options.symbols) {
        (true, _) => vec![30],
        (false, Some(n)) => vec![n],
        (false, None) => vec![30, 1_000, 10_000],
    };
    let (cycles, window) = if options.quick {
        (2, Duration::from_secs(2))
    } else {
        (10, Duration::from_secs(20))
    };
    let plugins = bundled_plugins()?;
    let mut results = Vec::new();
    for dialect in [Dialect::Bybit, Dialect::Binance] {
        for &symbols in &counts {
            results.push(one(options, &plugins, dialect, symbols, cycles, window)?);
        }
    }
    Ok(results)
}

/// One dialect at one symbol count.
fn one(
    options: &Options,
    plugins: &tempfile::TempDir,
    dialect: Dialect,
    symbols: usize,
    cycles: usize,
    window: Duration,
) -> Result<Value> {
    let exchange = LoopbackExchange::start(dialect, symbols);
    let state = tempfile::tempdir()?;
    let mut args: Vec<String> = exchange.args();
    args.extend(
        [
            "--plugins",
            plugins.path().to_str().context("temp path is not UTF-8")?,
            "--memcached",
            &options.memcached,
            "--state-dir",
            state.path().to_str().context("temp path is not UTF-8")?,
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let daemon = start_daemon(state.path().join("pulse.log"), &args)?;
    let stream = || -> Option<Value> {
        let (code, body) = http_get(&format!("{}/stream", daemon.status_url()));
        (code == 200).then(|| serde_json::from_str(&body).ok()).flatten()
    };
    let live = wait_until("every symbol gap-free", Duration::from_secs(180), || {
        stream().is_some_and(|s| s["symbols_live"].as_u64() == Some(symbols as u64))
    })
    .with_context(|| daemon.log())?;

    // Freshness: every symbol's data age at each of `cycles` snapshots.
    let mut ages = Vec::new();
    let mut lags = Vec::new();
    let mut seen = status_cycle(&daemon);
    while ages.len() < cycles * symbols {
        // `/stream` is read once a cycle, right after it: reading 10,000 symbols' continuity
        // costs the daemon more than a status line.
        std::thread::sleep(Duration::from_millis(100));
        let cycle = status_cycle(&daemon);
        if cycle == seen {
            continue;
        }
        seen = cycle;
        let Some(doc) = stream() else {
            bail!("/stream went away: {}", daemon.log());
        };
        exchange.shift(dialect.push_interval() / cycles as u32);
        lags.extend(doc["lag_ms"].as_f64());
        ages.extend(
            doc["symbols"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["data_age_ms"].as_f64()),
        );
    }
    let (age_p50, age_p99, age_max) = percentiles(&mut ages);
    // The longest send-to-read time in each cycle: how much of the age is the way here.
    if lags.is_empty() {
        bail!("/stream gave no lag: {}", daemon.log());
    }
    let (_, _, lag_max) = percentiles(&mut lags);

    // Ingestion: the daemon's CPU and the messages read, over `window`, nothing reading /stream.
    let messages = |d: &pulse_testkit::Daemon| {
        let label = if dialect == Dialect::Bybit { "bybit" } else { "binance" };
        scrape(&d.status_url())
            .get(&format!("pulse_stream_messages_total{{source=\"{label}\"}}"))
            .copied()
            .unwrap_or(0.0)
    };
    let (cpu_before, messages_before, started) = (cpu_seconds(daemon.pid())?, messages(&daemon), Instant::now());
    std::thread::sleep(window);
    let (cpu_after, messages_after) = (cpu_seconds(daemon.pid())?, messages(&daemon));
    let seconds = started.elapsed().as_secs_f64();
    let cpu_percent = (cpu_after - cpu_before) / seconds * 100.0;
    let per_second = (messages_after - messages_before) / seconds;
    let push_ms = dialect.push_interval().as_millis() as f64;
    let name = if dialect == Dialect::Bybit { "bybit" } else { "binance" };
    eprintln!(
        "streaming, {name}, {symbols} symbols: all gap-free after {:.1} s; data age p50 {age_p50:.0} ms, p99 {age_p99:.0} ms, \
         max {age_max:.0} ms (push every {push_ms:.0} ms), longest send-to-read {lag_max:.0} ms; {per_second:.0} \
         messages/s for {cpu_percent:.1} % of one core",
        live.as_secs_f64()
    );
    Ok(json!({
        "scenario": "streaming",
        "exchange": name,
        "symbols": symbols,
        "push_interval_ms": push_ms,
        "all_gap_free_after_ms": live.as_secs_f64() * 1000.0,
        "data_age_ms": {"p50": age_p50, "p99": age_p99, "max": age_max, "samples": ages.len()},
        "longest_send_to_read_ms": lag_max,
        "goal_data_age_p99_ms": push_ms + 10.0,
        "messages_per_second": per_second,
        "cpu_percent_of_one_core": cpu_percent,
        "daemon_peak_rss_bytes": daemon_peak_rss_bytes(&daemon)?,
    }))
}

/// The cycle `pulse:status`-wise, as the status server's `/healthz` line names it.
fn status_cycle(daemon: &pulse_testkit::Daemon) -> Option<u64> {
    let (_, body) = http_get(&format!("{}/healthz", daemon.status_url()));
    body.split("cycle ").nth(1)?.split(' ').next()?.parse().ok()
}

/// The CPU time `pid` has used, user and system, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command may hold spaces and parentheses: the fields follow its last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("no command in /proc/PID/stat")?
        .1
        .split_whitespace()
        .collect();
    // utime and stime are the stat file's 14th and 15th fields, the 12th and 13th after it.
    let ticks: f64 = fields
        .get(11..13)
        .context("a short /proc/PID/stat")?
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    Ok(ticks / TICKS_PER_SECOND)
}
