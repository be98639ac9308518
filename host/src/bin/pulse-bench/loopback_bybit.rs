//! A loopback Bybit for a daemon polling REST (`--stream false`): tickers of any number of
//! symbols, and klines of any depth up to the candle forming now, so a daemon's candles are
//! whole as soon as its backfill has run (the test kit's exchange makes candles only as its
//! market walks, a minute each). `first-whole` and `warm-state` start one.

use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{json, Value};

const MINUTE: i64 = 60_000;

/// The exchange's `i`-th symbol (the first has the largest turnover).
pub fn symbol(i: usize) -> String {
    format!("C{i:05}USDT")
}

/// Whether `symbol`'s breakdown holds whole trend components.
pub fn whole(client: &memcache::exp::MetaClient, symbol: &str) -> bool {
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

/// A loopback Bybit listing `symbols` symbols (`C00000USDT`, ...): their tickers and klines,
/// a thread per request; returns its URL.
pub fn start(symbols: usize) -> Result<String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = format!("http://{}", server.server_addr().to_ip().context("not an IP address")?);
    let server = Arc::new(server);
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            std::thread::spawn(move || {
                let body = if request.url().contains("kline") {
                    klines(request.url())
                } else {
                    tickers(symbols)
                };
                let _ = request.respond(tiny_http::Response::from_string(body));
            });
        }
    });
    Ok(url)
}

fn tickers(symbols: usize) -> String {
    let list: Vec<Value> = (0..symbols)
        .map(|i| {
            json!({"symbol": symbol(i), "lastPrice": format!("{}", 100 + i), "price24hPcnt": "0.01",
                "highPrice24h": format!("{}", 2 * (100 + i)), "lowPrice24h": "50",
                "turnover24h": format!("{}", 1e9 / (i as f64 + 1.0)), "volume24h": "1000"})
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
