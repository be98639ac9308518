//! Start to the first whole push: a daemon on a loopback exchange (Bybit's tickers and klines,
//! 30 symbols) with the bundled plugins, timed from spawn until every symbol's breakdown holds
//! the trend analyzer's EMAs, RSI and hourly gap on a full 61 one-minute candles. Once cold
//! (an empty state directory: the candles come from the backfill), then warm (restarted on the
//! state the first run saved on SIGTERM).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::harness::{bundled_plugins, client, start_daemon, wait_until};
use crate::Options;

const MINUTE: i64 = 60_000;
const SYMBOLS: usize = 30;

/// Runs cold, then warm.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let url = exchange()?;
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

fn symbol(i: usize) -> String {
    format!("C{i:02}USDT")
}

/// Whether `symbol`'s breakdown holds whole trend components.
fn whole(client: &memcache::exp::MetaClient, symbol: &str) -> bool {
    let Some(bytes) = client
        .get(pulse_keys::breakdown_key(symbol))
        .send()
        .ok()
        .and_then(|r| r.value)
    else {
        return false;
    };
    let Ok(breakdown) = serde_json::from_slice::<Value>(&bytes) else {
        return false;
    };
    let trend = &breakdown["analyzers"]["trend"]["components"];
    ["ema_slow", "rsi", "h1_gap_pct"].iter().all(|c| trend[c].is_number()) && trend["candles_1m"] == 61.0
}

/// A loopback Bybit: tickers of C00USDT..C29USDT and their klines, a thread per request.
fn exchange() -> Result<String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = format!("http://{}", server.server_addr().to_ip().context("not an IP address")?);
    let server = Arc::new(server);
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            std::thread::spawn(move || {
                let body = if request.url().contains("kline") {
                    klines(request.url())
                } else {
                    tickers()
                };
                let _ = request.respond(tiny_http::Response::from_string(body));
            });
        }
    });
    Ok(url)
}

fn tickers() -> String {
    let list: Vec<Value> = (0..SYMBOLS)
        .map(|i| {
            json!({"symbol": symbol(i), "lastPrice": format!("{}", 100 + i), "price24hPcnt": "0.01",
                "highPrice24h": "200", "lowPrice24h": "50", "turnover24h": format!("{}", 1e9 / (i as f64 + 1.0)),
                "volume24h": "1000"})
        })
        .collect();
    json!({"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": list}}).to_string()
}

/// `limit` candles up to the one forming now, newest first, every field a string.
fn klines(url: &str) -> String {
    let param = |key: &str| {
        url.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    };
    let limit: i64 = param("limit").parse().unwrap_or(1);
    let length = if param("interval") == "60" { 60 * MINUTE } else { MINUTE };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let forming = now - now.rem_euclid(length);
    let list: Vec<Value> = (0..limit)
        .map(|k| {
            let start = forming - k * length;
            let close = 100.0 + (start / length % 17) as f64 / 10.0;
            let row = [
                start as f64,
                close - 0.1,
                close + 0.3,
                close - 0.3,
                close,
                5.0,
                5.0 * close,
            ];
            Value::Array(row.iter().map(|v| Value::String(v.to_string())).collect())
        })
        .collect();
    json!({"retCode": 0, "retMsg": "OK", "result": {"symbol": param("symbol"), "category": "linear", "list": list}})
        .to_string()
}
