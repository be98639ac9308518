//! Start to the first whole push: a daemon on a loopback exchange (Bybit's tickers and klines,
//! 30 symbols) with the bundled plugins, timed from spawn until every symbol's breakdown holds
//! the trend analyzer's EMAs, RSI and hourly gap on a full 61 one-minute candles. Once cold
//! (an empty state directory: the candles come from the backfill), then warm (restarted on the
//! state the first run saved on SIGTERM).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::harness::{bundled_plugins, client, start_daemon, wait_until};
use crate::loopback_bybit::{self, symbol, whole};
use crate::Options;

const SYMBOLS: usize = 30;

/// Runs cold, then warm.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let url = loopback_bybit::start(SYMBOLS)?;
    let plugins = bundled_plugins()?;
    let state = tempfile::tempdir()?;
    let client = client(&options.memcached)?;
    let mut results = Vec::new();
    for start in ["cold", "warm"] {
        let _ = client.delete("pulse:status").send();
        for i in 0..SYMBOLS {
            let _ = client.delete(pulse_keys::breakdown_key(&symbol(i))).send();
        }
        let log = state.path().join(format!("pulse-{start}.log"));
        let started = Instant::now();
        let mut daemon = start_daemon(
            log,
            &[
                "--plugins",
                plugins.path().to_str().context("temp path is not UTF-8")?,
                "--memcached",
                &options.memcached,
                "--source",
                "bybit",
                "--stream",
                "false",
                "--exchange-url",
                &url,
                "--state-dir",
                state.path().to_str().context("temp path is not UTF-8")?,
                "--symbols",
                &SYMBOLS.to_string(),
            ],
        )?;
        let first_push = wait_until("the first push", Duration::from_secs(60), || {
            client.get("pulse:status").send().is_ok_and(|r| r.value.is_some())
        })?;
        wait_until("whole analyses of every symbol", Duration::from_secs(120), || {
            (0..SYMBOLS).all(|i| whole(&client, &symbol(i)))
        })
        .with_context(|| daemon.log())?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let cycle = client
            .get("pulse:status")
            .send()
            .ok()
            .and_then(|r| r.value)
            .and_then(|v| serde_json::from_slice::<Value>(&v).ok())
            .map_or(Value::Null, |s| s["cycle"].clone());
        eprintln!(
            "first-whole, {start}: first push after {:.0} ms, whole analyses of all {SYMBOLS} symbols after {ms:.0} ms (cycle {cycle})",
            first_push.as_secs_f64() * 1000.0
        );
        results.push(json!({
            "scenario": "first-whole",
            "start": start,
            "symbols": SYMBOLS,
            "start_to_first_push_ms": first_push.as_secs_f64() * 1000.0,
            "start_to_first_whole_push_ms": ms,
            "cycle_of_first_whole_push": cycle,
        }));
        daemon.stop();
    }
    Ok(results)
}
