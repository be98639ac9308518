//! The whole path for real: the `pulse` binary with the bundled plugins on the simulated
//! market, writing to a memcached of the test's own, read back with an independent client.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use pulse_testkit::{plugin_dir, status_cycle, wait_for, Daemon, Memcached};
use serde_json::Value;

const BUNDLED: [&str; 3] = ["trend", "volatility", "dashboard"];

fn number(v: &Value, what: &str) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().expect("an object").keys().map(String::as_str).collect()
}

fn verify(memcached: &Memcached) -> std::process::Output {
    pulse_testkit::pulse(&["verify", "--memcached", &memcached.addr])
}

#[test]
fn daemon_keeps_every_dashboard_key_fresh_and_keys_expire_after_it_stops() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&BUNDLED);
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5", "--ttl", "3", "--symbols", "30"],
    );
    wait_for("cycle 4 in pulse:status", Duration::from_secs(30), || {
        status_cycle(&memcached).filter(|&c| c >= 4)
    });

    // market:overview
    let overview = memcached.json("market:overview");
    assert_eq!(
        keys(&overview),
        BTreeSet::from([
            "total_symbols",
            "total_volume_24h",
            "market_regime",
            "trend_strength",
            "current_volatility",
            "btc_dominance",
            "average_change_24h",
            "timestamp",
            "cycle",
            "stale",
            "snapshot_age_ms"
        ])
    );
    assert_eq!(overview["total_symbols"], 30);
    let strength = number(&overview["trend_strength"], "trend_strength");
    assert!((0.0..=100.0).contains(&strength));
    let dominance = number(&overview["btc_dominance"], "btc_dominance");
    assert!(dominance > 0.0 && dominance < 100.0, "btc_dominance {dominance}");
    let regime = overview["market_regime"].as_str().unwrap().to_string();
    assert!(["BULLISH", "BEARISH", "NEUTRAL"].contains(&regime.as_str()));

    // analysis:market_regime is the plain string, equal to the overview's.
    let plain = String::from_utf8(memcached.get("analysis:market_regime").expect("regime key")).unwrap();
    assert!(
        plain == "BULLISH" || plain == "BEARISH" || plain == "NEUTRAL",
        "{plain:?}"
    );

    // market:tickers: one name per field, every symbol.
    let tickers = memcached.json("market:tickers");
    let tickers = tickers.as_object().unwrap();
    assert_eq!(tickers.len(), 30);
    assert!(tickers.contains_key("BTCUSDT") && tickers.contains_key("ETHUSDT"));
    let mut total_volume = 0.0;
    let mut changes = Vec::new();
    for (symbol, t) in tickers {
        assert_eq!(
            keys(t),
            BTreeSet::from([
                "price",
                "change_24h",
                "volume_24h",
                "high_24h",
                "low_24h",
                "signal",
                "score"
            ]),
            "{symbol}"
        );
        let (price, low, high) = (
            number(&t["price"], "price"),
            number(&t["low_24h"], "low"),
            number(&t["high_24h"], "high"),
        );
        assert!(low <= price && price <= high, "{symbol}: {low} <= {price} <= {high}");
        total_volume += number(&t["volume_24h"], "volume_24h");
        changes.push((symbol.clone(), number(&t["change_24h"], "change_24h")));
        let score = number(&t["score"], "score");
        assert!((0.0..=100.0).contains(&score));
        assert!(["STRONG_BUY", "BUY", "NEUTRAL", "SELL", "STRONG_SELL"].contains(&t["signal"].as_str().unwrap()));
    }
    let reported = number(&overview["total_volume_24h"], "total_volume_24h");
    assert!(
        (reported - total_volume).abs() / total_volume < 0.05,
        "{reported} vs {total_volume}"
    );

    // market:movers: really the largest gains, descending, and the largest losses, ascending.
    let movers = memcached.json("market:movers");
    let gainers: Vec<f64> = movers["gainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| number(&m["change_24h"], "gainer change"))
        .collect();
    let losers: Vec<f64> = movers["losers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| number(&m["change_24h"], "loser change"))
        .collect();
    assert!(!gainers.is_empty() && !losers.is_empty(), "{movers}");
    assert!(gainers.len() <= 5 && losers.len() <= 5);
    assert!(
        gainers.windows(2).all(|w| w[0] >= w[1]) && gainers.iter().all(|&c| c > 0.0),
        "{gainers:?}"
    );
    assert!(
        losers.windows(2).all(|w| w[0] <= w[1]) && losers.iter().all(|&c| c < 0.0),
        "{losers:?}"
    );
    // The movers come from the same market as the tickers (the same cycle, or one apart).
    let best_gain = changes.iter().map(|c| c.1).fold(f64::MIN, f64::max);
    assert!(
        (gainers[0] - best_gain).abs() < 1.0,
        "top gainer {} vs best ticker {best_gain}",
        gainers[0]
    );

    // market:breadth adds up.
    let breadth = memcached.json("market:breadth");
    let counts: u64 = ["up_count", "down_count", "flat_count"]
        .iter()
        .map(|k| breadth[k].as_u64().unwrap())
        .sum();
    assert_eq!(counts, 30);
    assert!(["bullish", "bearish", "neutral"].contains(&breadth["market_sentiment"].as_str().unwrap()));

    // analysis:signals: sorted by score, count matches, components from both analyzers.
    let signals = memcached.json("analysis:signals");
    let list = signals["signals"].as_array().unwrap();
    assert_eq!(signals["count"].as_u64().unwrap() as usize, list.len());
    assert_eq!(list.len(), 30);
    let scores: Vec<f64> = list.iter().map(|s| number(&s["score"], "score")).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(keys(&list[0]["components"]), BTreeSet::from(["trend", "volatility"]));
    assert!(list[0]["components"]["trend"]["rsi"].is_number());

    // analysis:breakdown:<SYMBOL> for every symbol, with every analyzer.
    for symbol in tickers.keys() {
        let b = memcached.json(&format!("analysis:breakdown:{symbol}"));
        assert_eq!(b["symbol"], symbol.as_str());
        assert_eq!(keys(&b["analyzers"]), BTreeSet::from(["trend", "volatility"]));
    }

    // Every key also reads as the shared schema (pulse-keys) the writer and the readers use,
    // which refuses unknown fields; the literal names above check that schema against the docs.
    schema::<pulse_keys::Overview>(&memcached, pulse_keys::OVERVIEW);
    schema::<pulse_keys::Tickers>(&memcached, pulse_keys::TICKERS);
    schema::<pulse_keys::Movers>(&memcached, pulse_keys::MOVERS);
    schema::<pulse_keys::Breadth>(&memcached, pulse_keys::BREADTH);
    schema::<pulse_keys::Signals>(&memcached, pulse_keys::SIGNALS);
    for symbol in tickers.keys() {
        schema::<pulse_keys::Breakdown>(&memcached, &pulse_keys::breakdown_key(symbol));
    }

    // pulse:status names the source and every plugin with its version and last call.
    let status = memcached.json("pulse:status");
    assert_eq!(status["source"], "simulated");
    let names: BTreeSet<&str> = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let version = if p["name"] == "trend" { "0.3.0" } else { "0.2.0" };
            assert_eq!(p["version"], version, "{p}");
            assert!(p["last_call"].as_i64().unwrap() > 0);
            assert!(p["last_error"].is_null(), "{p}");
            p["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, BTreeSet::from(BUNDLED));

    // `pulse verify` accepts the keys.
    let out = verify(&memcached);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("regime") && stdout.contains("gainers"), "{stdout}");

    // Values change from cycle to cycle.
    let before = (status_cycle(&memcached).unwrap(), memcached.json("market:tickers"));
    let after = wait_for("a later cycle", Duration::from_secs(10), || {
        status_cycle(&memcached).filter(|&c| c > before.0 + 1)
    });
    assert!(after > before.0);
    assert_ne!(
        memcached.json("market:tickers")["BTCUSDT"]["price"],
        before.1["BTCUSDT"]["price"]
    );
    assert!(memcached.json("market:overview")["cycle"].as_u64().unwrap() > before.0);

    let log = daemon.log();
    assert!(log.contains("Pushed 30 symbols to unified cache"), "{log}");
    assert!(daemon.stop(), "pulse did not exit cleanly on SIGTERM:\n{log}");
    assert!(daemon.log().contains("shutting down"));

    // With the daemon gone, every key expires after its 3 s TTL.
    wait_for("keys to expire", Duration::from_secs(8), || {
        [
            "pulse:status",
            "market:overview",
            "market:tickers",
            "analysis:market_regime",
        ]
        .iter()
        .all(|k| memcached.get(k).is_none())
        .then_some(())
    });
    let out = verify(&memcached);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pulse:status is missing"));
}

#[test]
fn bad_plugin_files_are_rejected_by_name_and_the_good_ones_serve() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard", "wrong_world"]);
    std::fs::write(plugins.path().join("junk.wasm"), "this is not wasm").unwrap();
    std::fs::write(plugins.path().join("notes.txt"), "operator notes").unwrap();
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.2", "--cycles", "3"],
    );
    assert!(daemon.wait(), "pulse failed:\n{}", daemon.log());
    let log = daemon.log();
    let lines_about = |file: &str| log.lines().filter(|l| l.contains(file)).collect::<Vec<_>>();
    let junk = lines_about("junk.wasm");
    assert_eq!(junk.len(), 1, "{log}");
    assert!(
        junk[0].contains("rejected plugin") && junk[0].contains("not a WebAssembly file"),
        "{}",
        junk[0]
    );
    let wrong = lines_about("wrong_world.wasm");
    assert_eq!(wrong.len(), 1, "{log}");
    assert!(
        wrong[0].contains("exports neither the analyzer nor the aggregator"),
        "{}",
        wrong[0]
    );
    assert!(lines_about("notes.txt")[0].contains("must end in .wasm"));

    assert_eq!(status_cycle(&memcached), Some(3));
    let status = memcached.json("pulse:status");
    let names: Vec<&str> = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trend", "dashboard"]);
    let signals = memcached.json("analysis:signals");
    assert_eq!(keys(&signals["signals"][0]["components"]), BTreeSet::from(["trend"]));
}

#[test]
fn a_missing_memcached_never_stalls_the_cycle() {
    let closed = format!("127.0.0.1:{}", pulse_testkit::free_port());
    let plugins = plugin_dir(&BUNDLED);
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &closed,
        &["--interval", "0.2", "--cycles", "5"],
    );
    assert!(daemon.wait(), "pulse failed:\n{}", daemon.log());
    let log = daemon.log();
    assert_eq!(
        log.matches("Error pushing to unified cache").count(),
        1,
        "the failure is logged once, not every cycle:\n{log}"
    );
    assert!(!log.contains("overran"), "a cycle blocked past its interval:\n{log}");
}

#[test]
fn bad_config_fails_at_startup_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    std::fs::write(&config, "interval = 2\nttl = 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("pulse.toml") && stderr.contains("line 2") && stderr.contains("ttl"),
        "{stderr}"
    );
}

/// Reads `key` as the schema type `T`, failing with the reason if it does not fit.
fn schema<T: serde::de::DeserializeOwned>(memcached: &Memcached, key: &str) {
    let value = memcached.json(key);
    if let Err(e) = serde_json::from_value::<T>(value.clone()) {
        panic!("{key} does not read as its pulse-keys schema: {e}\n{value}");
    }
}
