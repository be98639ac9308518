//! Candles end to end, with the default simulated source, the bundled plugins and a real
//! memcached: the first push after a start carries whole analyses for every symbol, with the
//! depth each plugin received in its breakdown, and so does the first push after a restart.

use std::time::Duration;

use pulse_testkit::{plugin_dir, wait_for, Daemon, Memcached};
use serde_json::Value;

/// The components of `analyzer` in `breakdown`.
fn components<'a>(breakdown: &'a Value, analyzer: &str) -> &'a serde_json::Map<String, Value> {
    breakdown["analyzers"][analyzer]["components"]
        .as_object()
        .unwrap_or_else(|| panic!("no {analyzer} components in {breakdown}"))
}

/// Starts a daemon with a long interval, waits for its first push, and checks every symbol's
/// breakdown of cycle 1.
fn first_push_is_whole(memcached: &Memcached, plugins: &str) {
    let mut daemon = Daemon::serve(
        plugins,
        &memcached.addr,
        &["--interval", "20", "--ttl", "60", "--symbols", "30"],
    );
    let first = |key: &str| {
        let value: Value = serde_json::from_slice(&memcached.get(key)?).ok()?;
        (value["cycle"] == 1).then_some(value)
    };
    let status = wait_for("the first push", Duration::from_secs(30), || first(pulse_keys::STATUS));
    assert_eq!(status["cycle"], 1);
    let tickers = memcached.json(pulse_keys::TICKERS);
    let symbols: Vec<&String> = tickers.as_object().unwrap().keys().collect();
    assert_eq!(symbols.len(), 30);
    for symbol in symbols {
        let breakdown = first(&pulse_keys::breakdown_key(symbol))
            .unwrap_or_else(|| panic!("no breakdown of cycle 1 for {symbol}:\n{}", daemon.log()));
        let trend = components(&breakdown, "trend");
        for name in ["ema_fast", "ema_slow", "rsi", "h1_gap_pct"] {
            let value = trend.get(name).and_then(Value::as_f64);
            assert!(
                value.is_some_and(f64::is_finite),
                "{symbol}: trend {name} is {value:?} in {breakdown}"
            );
        }
        // 60 closed one-minute candles and the forming one (the hourly gap above needs 26
        // hourly closes: it is there only on a full hourly series).
        assert_eq!(trend["candles_1m"], 61.0, "{symbol}: {breakdown}");
        let volatility = components(&breakdown, "volatility");
        for name in ["volatility_pct", "atr_pct"] {
            let value = volatility.get(name).and_then(Value::as_f64);
            assert!(
                value.is_some_and(f64::is_finite),
                "{symbol}: volatility {name} is {value:?}"
            );
        }
        assert_eq!(volatility["candles_1m"], 61.0, "{symbol}: {breakdown}");
    }
    assert!(daemon.stop(), "{}", daemon.log());
}

#[test]
fn the_first_push_after_a_start_and_after_a_restart_carries_whole_analyses() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path().to_str().unwrap();
    first_push_is_whole(&memcached, dir);
    // A memcached of its own, so that no key of the first run can stand in for the second's.
    first_push_is_whole(&Memcached::start(), dir);
}
