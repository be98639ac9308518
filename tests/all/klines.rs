//! Candles from the exchanges for real: a loopback server speaking Bybit's and Binance's kline
//! shapes (Bybit newest first with every field a string, Binance oldest first with integer
//! times), with bad rows, errors, slow and empty answers. The daemon's plugins see the closed
//! candles the server served, bad rows are refused and counted, the cycles keep their cadence
//! while the backfill runs, and the server never sees more requests than the configured pace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pulse_testkit::{http_server, plugin_dir, scrape, value, Daemon, Memcached};
use serde_json::{json, Value};

const MINUTE: i64 = 60_000;
/// Kline requests per second the daemon is held to.
const PACE: usize = 5;

/// The candle the server holds for `symbol` at `start`: a close that tells symbols and
/// minutes apart.
fn served(symbol: usize, start: i64) -> (f64, f64, f64, f64, f64) {
    let close = 100.0 + symbol as f64 + (start / MINUTE % 50) as f64 / 10.0;
    (close - 0.2, close + 0.5, close - 0.5, close, 10.0 + symbol as f64)
}

/// Which exchange the fake speaks.
#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Bybit,
    Binance,
}

/// The fake exchange's state: when each kline request came, and how many each symbol got.
#[derive(Default)]
struct Seen {
    kline_times: Vec<Instant>,
    per_symbol: HashMap<String, usize>,
}

fn query<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, q) = url.split_once('?')?;
    q.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Answers a kline request: C02 has no candles, C03's oldest rows are bad, C04 fails its first
/// two requests, C05 answers after 1.5 s.
fn klines(dialect: Dialect, url: &str, seen: &Mutex<Seen>) -> (u16, String) {
    let symbol = query(url, "symbol").unwrap().to_string();
    let limit: i64 = query(url, "limit").unwrap().parse().unwrap();
    let length = match query(url, "interval").unwrap() {
        "1" | "1m" => MINUTE,
        "60" | "1h" => 60 * MINUTE,
        other => panic!("unexpected interval {other}"),
    };
    let nth = {
        let mut seen = seen.lock().unwrap();
        seen.kline_times.push(Instant::now());
        let n = seen.per_symbol.entry(symbol.clone()).or_default();
        *n += 1;
        *n
    };
    let index: usize = symbol[1..3].parse().unwrap();
    if index == 4 && nth <= 2 {
        return (503, "<html>busy</html>".into());
    }
    if index == 5 {
        std::thread::sleep(Duration::from_millis(1500));
    }
    let now = pulse_testkit::unix_ms();
    let forming = now - now.rem_euclid(length);
    let starts: Vec<i64> = if index == 2 {
        Vec::new()
    } else {
        (0..limit).rev().map(|k| forming - k * length).collect()
    };
    let mut rows: Vec<Value> = starts
        .iter()
        .enumerate()
        .map(|(j, &start)| {
            let (open, high, low, close, volume) = served(index, start);
            let bad = index == 3 && j < 2;
            let (open, high) = match (bad, j) {
                (true, 0) => ("NaN".to_string(), high.to_string()),
                (true, _) => (open.to_string(), (low - 1.0).to_string()),
                _ => (open.to_string(), high.to_string()),
            };
            let (low, close, volume, turnover) = (
                low.to_string(),
                close.to_string(),
                volume.to_string(),
                (volume * close).to_string(),
            );
            match dialect {
                Dialect::Bybit => json!([start.to_string(), open, high, low, close, volume, turnover]),
                Dialect::Binance => json!([
                    start,
                    open,
                    high,
                    low,
                    close,
                    volume,
                    start + length - 1,
                    turnover,
                    1,
                    "0",
                    "0",
                    "0"
                ]),
            }
        })
        .collect();
    match dialect {
        Dialect::Bybit => {
            rows.reverse();
            let body = json!({"retCode": 0, "retMsg": "OK", "result": {"symbol": symbol, "category": "linear", "list": rows}, "retExtInfo": {}, "time": now});
            (200, body.to_string())
        }
        Dialect::Binance => (200, Value::Array(rows).to_string()),
    }
}

/// 24 h tickers of C00USDT..C05USDT, C00 the largest.
fn tickers(dialect: Dialect) -> String {
    let rows: Vec<Value> = (0..6)
        .map(|i| {
            let (price, turnover) = (format!("{}", 100 + i), format!("{}", 1e9 / (i as f64 + 1.0)));
            let symbol = format!("C{i:02}USDT");
            match dialect {
                Dialect::Bybit => json!({"symbol": symbol, "lastPrice": price, "price24hPcnt": "0.01",
                    "highPrice24h": "200", "lowPrice24h": "50", "turnover24h": turnover, "volume24h": "1000"}),
                Dialect::Binance => json!({"symbol": symbol, "lastPrice": price, "priceChangePercent": "1",
                    "highPrice": "200", "lowPrice": "50", "volume": "1000", "quoteVolume": turnover}),
            }
        })
        .collect();
    match dialect {
        Dialect::Bybit => {
            json!({"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": rows}}).to_string()
        }
        Dialect::Binance => Value::Array(rows).to_string(),
    }
}

/// The clock-reader's components for `symbol` in the latest breakdown.
fn read(memcached: &Memcached, symbol: &str) -> Option<Value> {
    let breakdown: Value = serde_json::from_slice(&memcached.get(&pulse_keys::breakdown_key(symbol))?).ok()?;
    Some(breakdown["analyzers"]["clock-reader"]["components"].clone())
}

/// Whether the five closed candles `components` describe are the ones the server serves.
fn closed_as_served(components: &Value, index: usize) -> bool {
    let Some(market_ms) = components["market_ms"].as_f64() else {
        return false;
    };
    let forming = market_ms as i64 - (market_ms as i64).rem_euclid(MINUTE);
    let starts: Vec<i64> = (1..=5).rev().map(|k| forming - k * MINUTE).collect();
    let closes: f64 = starts.iter().map(|&s| served(index, s).3).sum();
    let volumes: f64 = starts.iter().map(|&s| served(index, s).4).sum();
    components["closed_count"] == 5.0
        && components["first_closed_start_ms"].as_f64() == Some(starts[0] as f64)
        && (components["closed_close_sum"].as_f64().unwrap_or(0.0) - closes).abs() < 1e-6
        && (components["closed_volume_sum"].as_f64().unwrap_or(0.0) - volumes).abs() < 1e-6
}

fn backfill_from(dialect: Dialect) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    let url = http_server(move |url| {
        if url.contains("kline") {
            klines(dialect, url, &state)
        } else {
            (200, tickers(dialect))
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    std::fs::write(
        &config,
        format!("[market]\nkline_requests_per_second = {PACE}\nkline_in_flight = 2\n"),
    )
    .unwrap();
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard", "clock_reader"]);
    let source = if dialect == Dialect::Bybit { "bybit" } else { "binance" };
    let started = Instant::now();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &[
            "--config",
            config.to_str().unwrap(),
            "--source",
            source,
            "--stream",
            "false",
            "--exchange-url",
            &url,
            "--interval",
            "0.2",
            "--ttl",
            "10",
        ],
    );

    // The closed candles plugins see are the served ones, for every symbol that has them.
    for index in [0, 1, 3, 4, 5] {
        let symbol = format!("C{index:02}USDT");
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let last = read(&memcached, &symbol);
            if last.as_ref().is_some_and(|c| closed_as_served(c, index)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{symbol}'s candles are not the served ones: {last:?}\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // The backfill ran beside the cycles, never in them: they kept their 0.2 s cadence.
    let status = memcached.json(pulse_keys::STATUS);
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        status["cycle"].as_f64().unwrap() >= elapsed / 0.2 * 0.6,
        "{} cycles in {elapsed:.1} s\n{}",
        status["cycle"],
        daemon.log()
    );
    // A symbol the exchange has no candles for is analysed all the same. Its only candles are
    // those its ticker prices built: the forming one, closed (with no volume) if a minute
    // boundary passed during the test.
    let empty = read(&memcached, "C02USDT").expect("C02USDT analysed");
    assert!(empty["closed_count"].as_f64().unwrap() <= 1.0, "{empty}");
    assert_eq!(empty["closed_volume_sum"], 0.0, "{empty}");
    let trend: Value =
        memcached.json(&pulse_keys::breakdown_key("C00USDT"))["analyzers"]["trend"]["components"].clone();
    assert_eq!(trend["candles_1m"], 61.0, "{trend}");
    assert!(
        trend["h1_gap_pct"].is_number(),
        "the hourly candles were backfilled too: {trend}"
    );

    // Bad rows refused and counted; failed requests counted and retried.
    let metrics = scrape(&daemon.status_url());
    let rejected: f64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("pulse_source_candles_rejected_total"))
        .map(|(_, v)| v)
        .sum();
    assert!(rejected >= 2.0, "{metrics:#?}");
    let failures = value(
        &metrics,
        &format!("pulse_source_kline_failures_total{{source=\"{source}\"}}"),
    );
    assert!(failures >= 2.0, "{metrics:#?}");
    assert!(
        value(
            &metrics,
            &format!("pulse_source_kline_requests_total{{source=\"{source}\"}}")
        ) >= 12.0
    );

    // Never more requests in a second than the pace allows: any PACE + 1 requests in a row
    // span a second (less 50 ms for the network's jitter on loopback).
    let times = seen.lock().unwrap().kline_times.clone();
    assert!(times.len() > PACE, "{} kline requests", times.len());
    for window in times.windows(PACE + 1) {
        let span = window[PACE].duration_since(window[0]);
        assert!(
            span >= Duration::from_millis(950),
            "{} kline requests within {span:?} (pace {PACE}/s)",
            PACE + 1
        );
    }
}

#[test]
fn bybit_candles_are_backfilled_at_the_pace_and_equal_what_was_served() {
    backfill_from(Dialect::Bybit);
}

#[test]
fn binance_candles_are_backfilled_at_the_pace_and_equal_what_was_served() {
    backfill_from(Dialect::Binance);
}
