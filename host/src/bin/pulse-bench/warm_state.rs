//! What the warm state costs at scale: a daemon polling a loopback Bybit (`loopback_bybit`) at
//! N symbols, with the bundled plugins (candles for `trend` and `volatility`, `trend`'s held
//! signals as its state, the verdicts scored as evidence), run until its first and last symbols
//! (by turnover) are whole and past its first periodic save (a minute after start), then stopped (a save) and started again
//! on the file. Reported: the file's size; each save's time to copy the state between cycles and
//! to encode and write it (from the daemon's log); the cycles around a periodic save (their
//! duration, and how late the next one started); the stop; and the restart's time to its first
//! push, to its first whole push, and to load the file.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use memcache::exp::MetaClient;
use serde_json::{json, Value};

use crate::harness::{bundled_plugins, client, percentiles, start_daemon, wait_until};
use crate::loopback_bybit::{self, symbol, whole};
use crate::Options;

/// Runs at `--symbols`, or at 1,000 and 10,000 (30 with `--quick`, without the periodic save).
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let sizes = match (options.quick, options.symbols) {
        (true, _) => vec![30],
        (false, Some(n)) => vec![n],
        (false, None) => vec![1_000, 10_000],
    };
    sizes.into_iter().map(|n| measure(options, n)).collect()
}

/// The daemon's interval (its default), which the cycles' starts are measured against.
const INTERVAL_MS: i64 = 2_000;

fn measure(options: &Options, symbols: usize) -> Result<Value> {
    if symbols == 0 {
        bail!("warm-state needs at least one symbol");
    }
    let url = loopback_bybit::start(symbols)?;
    let plugins = bundled_plugins()?;
    let state = tempfile::tempdir()?;
    // Candles backfilled as fast as the loopback answers, so a large market is whole in seconds.
    let config = state.path().join("pulse.toml");
    std::fs::write(
        &config,
        "[market]\nkline_requests_per_second = 1000\nkline_in_flight = 16\n",
    )?;
    let path = |p: &Path| p.to_str().map(str::to_string).context("temp path is not UTF-8");
    let args: Vec<String> = vec![
        "--source".into(),
        "bybit".into(),
        "--stream".into(),
        "false".into(),
        "--exchange-url".into(),
        url,
        "--config".into(),
        path(&config)?,
        "--plugins".into(),
        path(plugins.path())?,
        "--memcached".into(),
        options.memcached.clone(),
        "--state-dir".into(),
        path(state.path())?,
        "--symbols".into(),
        symbols.to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let client = client(&options.memcached)?;
    let watched = [symbol(0), symbol(symbols - 1)];

    // Cold: whole, then (unless quick) past the first periodic save, then stopped.
    forget(&client, &watched);
    let cold_log = state.path().join("cold.log");
    let mut daemon = start_daemon(cold_log.clone(), &args)?;
    let cold = Instant::now();
    wait_until(
        "whole analyses of the first and last symbols",
        Duration::from_secs(300),
        || watched.iter().all(|s| whole(&client, s)),
    )
    .with_context(|| daemon.log())?;
    let whole_s = cold.elapsed().as_secs_f64();
    let periodic = if options.quick {
        Value::Null
    } else {
        around_the_save(&client, &cold_log)?
    };
    let stopping = Instant::now();
    if !daemon.stop() {
        bail!("the daemon failed on its stop:\n{}", daemon.log());
    }
    let stop_ms = stopping.elapsed().as_secs_f64() * 1000.0;
    let saves = saves(&std::fs::read_to_string(&cold_log)?);
    let Some(last_save) = saves.last().cloned() else {
        bail!("the daemon logged no save:\n{}", daemon.log());
    };

    // Warm: the same market, started again on the file.
    forget(&client, &watched);
    let _ = client.delete("pulse:status").send();
    let warm_log = state.path().join("warm.log");
    let started = Instant::now();
    let mut daemon = start_daemon(warm_log.clone(), &args)?;
    let first_push = wait_until("the first push", Duration::from_secs(60), || {
        client.get("pulse:status").send().is_ok_and(|r| r.value.is_some())
    })?;
    wait_until("whole analyses after the warm start", Duration::from_secs(60), || {
        watched.iter().all(|s| whole(&client, s))
    })
    .with_context(|| daemon.log())?;
    let whole_ms = started.elapsed().as_secs_f64() * 1000.0;
    let load_ms = load_ms(&std::fs::read_to_string(&warm_log)?);
    daemon.stop();

    let result = json!({
        "scenario": "warm-state",
        "symbols": symbols,
        "cold_whole_s": whole_s,
        "file_bytes": last_save["bytes"],
        "saves": saves,
        "stop_ms": stop_ms,
        "around_the_periodic_save": periodic,
        "warm_start_to_first_push_ms": first_push.as_secs_f64() * 1000.0,
        "warm_start_to_whole_push_ms": whole_ms,
        "warm_load_ms": load_ms,
    });
    eprintln!(
        "warm-state at {symbols} symbols: file {:.1} MB; saves (copy, write ms) {}; stop {stop_ms:.0} ms; \
         around the periodic save {periodic}; restart: first push {:.0} ms, whole {whole_ms:.0} ms, load {}",
        last_save["bytes"].as_f64().unwrap_or_default() / 1e6,
        saves
            .iter()
            .map(|s| format!(
                "{:.0}/{:.0}",
                s["copy_ms"].as_f64().unwrap_or_default(),
                s["write_ms"].as_f64().unwrap_or_default()
            ))
            .collect::<Vec<_>>()
            .join(", "),
        first_push.as_secs_f64() * 1000.0,
        load_ms.map_or("?".into(), |ms| format!("{ms:.0} ms")),
    );
    Ok(result)
}

/// The cycles from a few before the daemon's next periodic save (logged in `log`) to a few
/// after it, read from `pulse:status`: their durations, and how much later than the interval
/// each started after the one before.
fn around_the_save(client: &MetaClient, log: &Path) -> Result<Value> {
    // A save logged before the watch began is not the one watched.
    let earlier = saves(&std::fs::read_to_string(log)?).len();
    let mut cycles: Vec<(u64, i64, f64)> = Vec::new();
    let mut saved_at_cycle = None;
    let deadline = Instant::now() + Duration::from_secs(150);
    while Instant::now() < deadline {
        if let Some(status) = client
            .get("pulse:status")
            .send()
            .ok()
            .and_then(|r| r.value)
            .and_then(|v| serde_json::from_slice::<Value>(&v).ok())
        {
            let cycle = status["cycle"].as_u64().unwrap_or_default();
            if cycles.last().is_none_or(|&(last, ..)| cycle > last) {
                let at = status["timestamp_ms"].as_i64().unwrap_or_default();
                cycles.push((cycle, at, status["cycle_duration_ms"].as_f64().unwrap_or_default()));
                // A save comes between cycles: the log is read again once a cycle, and a save
                // new since the last read followed the cycle before this one.
                if saved_at_cycle.is_none() && saves(&std::fs::read_to_string(log)?).len() > earlier {
                    saved_at_cycle = cycles.len().checked_sub(2).map(|i| cycles[i].0);
                }
            }
        }
        if saved_at_cycle.is_some_and(|saved| cycles.last().is_some_and(|&(last, ..)| last >= saved + 3)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(saved) = saved_at_cycle else {
        bail!("no periodic save within 150 s");
    };
    let mut durations: Vec<f64> = cycles.iter().map(|&(.., ms)| ms).collect();
    let (p50, p99, max) = percentiles(&mut durations);
    let late = |pair: &[(u64, i64, f64)]| (pair[1].1 - pair[0].1 - INTERVAL_MS) as f64;
    let after_save = cycles
        .windows(2)
        .find(|pair| pair[0].0 == saved && pair[1].0 == saved + 1)
        .map(late);
    let mut others: Vec<f64> = cycles
        .windows(2)
        .filter(|pair| pair[1].0 == pair[0].0 + 1 && pair[0].0 != saved)
        .map(late)
        .collect();
    let (late_p50, _, late_max) = if others.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        percentiles(&mut others)
    };
    Ok(json!({
        "cycles": cycles.len(),
        "cycle_ms_p50": p50,
        "cycle_ms_p99": p99,
        "cycle_ms_max": max,
        "next_cycle_late_ms_after_the_save": after_save,
        "next_cycle_late_ms_otherwise_p50": late_p50,
        "next_cycle_late_ms_otherwise_max": late_max,
    }))
}

/// Every save the daemon logged in `log`: its size, and its copy and write times.
fn saves(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|line| line.contains("saved the state for a warm restart:"))
        .map(|line| {
            json!({
                "bytes": number_after(line, "warm restart:", " bytes"),
                "copy_ms": number_after(line, "copied in", " ms"),
                "write_ms": number_after(line, "written in", " ms"),
            })
        })
        .collect()
}

/// The load time the warm start logged in `log`.
fn load_ms(log: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains("warm start: took back"))?;
    number_after(line, "refused) in", " ms")
}

/// The number between `label` and `unit` on `line`.
fn number_after(line: &str, label: &str, unit: &str) -> Option<f64> {
    let rest = &line[line.find(label)? + label.len()..];
    rest[..rest.find(unit)?].trim().parse().ok()
}

/// Deletes `symbols`' breakdown keys, so the next whole ones are the next daemon's.
fn forget(client: &MetaClient, symbols: &[String]) {
    for symbol in symbols {
        let _ = client.delete(pulse_keys::breakdown_key(symbol)).send();
    }
}
