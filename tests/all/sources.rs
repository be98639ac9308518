//! Market sources for real: exchange response shapes served by an HTTP server on loopback,
//! stale snapshots instead of zeros while the exchange fails, the max-age cutoff, and a
//! recording replayed into the very same keys.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_testkit::{plugin_dir, scrape, value, wait_for, Daemon, Memcached};
use serde_json::{json, Value};

/// What the fake exchange answers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Good,
    ServerError,
    Slow,
    Malformed,
    Empty,
}

/// Bybit v5 `/v5/market/tickers?category=linear` with `n` good rows (turnover falling with
/// the index) and three bad ones.
pub(crate) fn bybit_body(n: usize, empty: bool) -> String {
    let mut list: Vec<Value> = (0..n)
        .map(|i| {
            let price = 100.0 + i as f64;
            json!({
                "symbol": format!("C{i:02}USDT"), "lastPrice": price.to_string(), "indexPrice": price.to_string(),
                "markPrice": price.to_string(), "prevPrice24h": "99", "price24hPcnt": format!("{}", (i as f64 - 4.0) / 100.0),
                "highPrice24h": (price * 1.05).to_string(), "lowPrice24h": (price * 0.95).to_string(),
                "prevPrice1h": "100", "openInterest": "1", "openInterestValue": "1",
                "turnover24h": format!("{}", 1e9 / (i as f64 + 1.0)), "volume24h": "12345.6",
                "fundingRate": "0.0001", "nextFundingTime": "1700000000000",
                "bid1Price": "1", "bid1Size": "1", "ask1Price": "1", "ask1Size": "1"
            })
        })
        .collect();
    list.push(
        json!({"symbol": "NANUSDT", "lastPrice": "", "price24hPcnt": "0", "highPrice24h": "1",
        "lowPrice24h": "1", "turnover24h": "9e12", "volume24h": "1"}),
    );
    list.push(
        json!({"symbol": "NEGUSDT", "lastPrice": "-3", "price24hPcnt": "0", "highPrice24h": "1",
        "lowPrice24h": "1", "turnover24h": "9e12", "volume24h": "1"}),
    );
    list.push(
        json!({"symbol": "FLIPUSDT", "lastPrice": "3", "price24hPcnt": "0", "highPrice24h": "1",
        "lowPrice24h": "5", "turnover24h": "9e12", "volume24h": "1"}),
    );
    if empty {
        list.clear();
    }
    json!({"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": list},
        "retExtInfo": {}, "time": 1700000000000_i64})
    .to_string()
}

/// An HTTP server on loopback answering every request according to `mode`.
fn fake_exchange(mode: Arc<Mutex<Mode>>, body: impl Fn(Mode) -> (u16, String) + Send + Sync + 'static) -> String {
    pulse_testkit::http_server(move |_| {
        let mode = *mode.lock().unwrap();
        if mode == Mode::Slow {
            std::thread::sleep(Duration::from_millis(1500));
        }
        body(mode)
    })
}

fn status(memcached: &Memcached) -> Option<Value> {
    serde_json::from_slice(&memcached.get("pulse:status")?).ok()
}

#[test]
fn an_exchange_outage_serves_the_last_snapshot_marked_stale_then_cuts_off() {
    let memcached = Memcached::start();
    let mode = Arc::new(Mutex::new(Mode::Good));
    let url = fake_exchange(mode.clone(), |mode| match mode {
        Mode::Good | Mode::Slow => (200, bybit_body(12, false)),
        Mode::Empty => (200, bybit_body(12, true)),
        Mode::ServerError => (500, "<html>502 Bad Gateway</html>".into()),
        Mode::Malformed => (200, "{\"retCode\":0,\"result\":".into()),
    });
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let started = std::time::Instant::now();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &[
            "--source",
            "bybit",
            "--stream",
            "false",
            "--exchange-url",
            &url,
            "--interval",
            "0.4",
            "--ttl",
            "2",
            "--max-age",
            "3",
            "--symbols",
            "5",
        ],
    );

    // Parsing and top-N: the five largest by turnover; bad rows dropped and counted.
    wait_for("a fresh status", Duration::from_secs(30), || {
        status(&memcached).filter(|s| s["cycle"].as_u64() >= Some(2))
    });
    let tickers = memcached.json("market:tickers");
    let symbols: Vec<&String> = tickers.as_object().unwrap().keys().collect();
    assert_eq!(symbols, ["C00USDT", "C01USDT", "C02USDT", "C03USDT", "C04USDT"]);
    assert_eq!(tickers["C01USDT"]["price"], 101.0);
    assert!((tickers["C01USDT"]["change_24h"].as_f64().unwrap() + 3.0).abs() < 1e-9);
    let log = daemon.log();
    let rejected = log
        .lines()
        .find(|l| l.contains("market rows"))
        .expect("a rejected-rows line");
    assert!(
        rejected.contains("dropped 3 of 15 market rows")
            && rejected.contains("1 a number is missing or not finite")
            && rejected.contains("1 price not positive")
            && rejected.contains("1 24 h high below low"),
        "{rejected}"
    );

    // Each kind of failure: the last good snapshot is served, marked stale; then recovery.
    for (failure, reason) in [
        (Mode::ServerError, "HTTP 500"),
        (Mode::Slow, "GET http"),
        (Mode::Malformed, "unexpected body"),
        (Mode::Empty, "returned no tickers"),
    ] {
        *mode.lock().unwrap() = failure;
        let stale = wait_for(
            &format!("a stale status during {failure:?}"),
            Duration::from_secs(10),
            || status(&memcached).filter(|s| s["stale"] == true),
        );
        assert!(
            stale["source_error"].as_str().unwrap().contains(reason),
            "{failure:?}: {stale}"
        );
        let overview = wait_for("a stale overview", Duration::from_secs(5), || {
            let o = memcached.json("market:overview");
            (o["stale"] == true).then_some(o)
        });
        assert!(overview["snapshot_age_ms"].as_u64().unwrap() > 0, "{overview}");
        assert_eq!(overview["total_symbols"], 5, "stale, not zeros: {overview}");
        *mode.lock().unwrap() = Mode::Good;
        wait_for(&format!("recovery after {failure:?}"), Duration::from_secs(10), || {
            status(&memcached).filter(|s| s["stale"] == false)
        });
    }

    // Past max age (3 s) the market keys are no longer written and expire (TTL 2 s), while the
    // status stays fresh and says why.
    *mode.lock().unwrap() = Mode::ServerError;
    wait_for("market keys to expire", Duration::from_secs(15), || {
        memcached.get("market:overview").is_none().then_some(())
    });
    let cut = status(&memcached).expect("the status is still written");
    assert!(cut["snapshot_timestamp_ms"].is_null() && cut["stale"] == true, "{cut}");
    assert!(cut["snapshot_age_ms"].as_u64().unwrap() > 3000, "{cut}");

    // The same story in the metrics.
    let metrics = scrape(&daemon.status_url());
    let polls = value(&metrics, r#"pulse_source_polls_total{source="bybit"}"#);
    let failures = value(&metrics, r#"pulse_source_failures_total{source="bybit"}"#);
    assert!(
        failures >= 5.0 && polls > failures,
        "{failures} failures in {polls} polls"
    );
    let cycles = value(&metrics, "pulse_cycles_total");
    assert!(
        polls == cycles || polls == cycles + 1.0,
        "{polls} polls, {cycles} cycles"
    );
    assert!(value(&metrics, "pulse_snapshot_age_seconds") > 3.0);
    // Three bad rows in every good body, one per reason.
    let bad_rows = value(
        &metrics,
        r#"pulse_source_rows_rejected_total{reason="price not positive"}"#,
    );
    assert!(bad_rows >= 2.0 && bad_rows <= polls - failures, "{bad_rows}");
    for reason in ["a number is missing or not finite", "24 h high below low"] {
        let series = format!(r#"pulse_source_rows_rejected_total{{reason="{reason}"}}"#);
        assert_eq!(value(&metrics, &series), bad_rows, "{series}");
    }
    *mode.lock().unwrap() = Mode::Good;
    wait_for("market keys back", Duration::from_secs(10), || {
        memcached.get("market:overview").map(drop)
    });

    let log = daemon.log();
    // Five outages in a few seconds are a flapping source: its first four changes are said
    // (two outages and their ends), the rest summed up once the minute has passed.
    assert_eq!(
        log.matches("market source bybit failed").count(),
        2,
        "a line per outage while it flaps no more than 4 changes a minute:\n{log}"
    );
    assert_eq!(log.matches("market source bybit recovered after").count(), 2, "{log}");
    assert_eq!(log.matches("older than 3 s").count(), 1, "{log}");
    // The same three bad rows came in every good poll; the line saying so is written when they
    // start and then at most once a minute, while the counter above has every one.
    let minutes = started.elapsed().as_secs() / 60;
    let row_lines = log.matches("market rows").count() as u64;
    assert!(
        bad_rows >= 5.0,
        "only {bad_rows} bad polls: too few to show the summary"
    );
    assert!(
        (1..=1 + minutes).contains(&row_lines),
        "{row_lines} rejected-rows lines in {minutes} min for {bad_rows} bad polls"
    );
}

#[test]
fn binance_tickers_are_parsed_and_the_top_picked() {
    let memcached = Memcached::start();
    let body: Vec<Value> = ["BTCUSDT", "ETHUSDT", "ETHBTC", "XRPUSDT"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"symbol": s, "priceChange": "1", "priceChangePercent": format!("{}.5", i), "weightedAvgPrice": "1",
                "prevClosePrice": "1", "lastPrice": format!("{}", 10.0 * (i + 1) as f64), "lastQty": "1", "bidPrice": "1",
                "bidQty": "1", "askPrice": "1", "askQty": "1", "openPrice": "1", "highPrice": "1000", "lowPrice": "1",
                "volume": "10", "quoteVolume": format!("{}", 1e9 * (4 - i) as f64), "openTime": 1, "closeTime": 2,
                "firstId": 1, "lastId": 2, "count": 2})
        })
        .collect();
    let body = Value::Array(body).to_string();
    let url = fake_exchange(Arc::new(Mutex::new(Mode::Good)), move |_| (200, body.clone()));
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &[
            "--source",
            "binance",
            "--stream",
            "false",
            "--exchange-url",
            &url,
            "--interval",
            "0.2",
            "--cycles",
            "2",
            "--exclude",
            "XRPUSDT",
        ],
    );
    assert!(daemon.wait(), "{}", daemon.log());
    let tickers = memcached.json("market:tickers");
    let symbols: Vec<&String> = tickers.as_object().unwrap().keys().collect();
    assert_eq!(symbols, ["BTCUSDT", "ETHUSDT"], "USDT pairs only, XRPUSDT excluded");
    assert_eq!(tickers["ETHUSDT"]["price"], 20.0);
    assert_eq!(tickers["ETHUSDT"]["change_24h"], 1.5);
    assert_eq!(tickers["ETHUSDT"]["volume_24h"], 3e9);
}

#[test]
fn a_recording_replays_into_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("market.jsonl");
    let plugins = plugin_dir(&["trend", "volatility", "dashboard", "clock_reader"]);
    let run = |memcached: &Memcached, source: &str, extra: &[&str]| {
        let mut args = vec!["--source", source, "--interval", "0.2", "--ttl", "60"];
        args.extend_from_slice(extra);
        let mut daemon = Daemon::serve(plugins.path().to_str().unwrap(), &memcached.addr, &args);
        assert!(daemon.wait(), "{}", daemon.log());
    };
    let live = Memcached::start();
    run(
        &live,
        "simulated",
        &["--record", recording.to_str().unwrap(), "--cycles", "6"],
    );
    let lines = std::fs::read_to_string(&recording).unwrap();
    assert_eq!(lines.lines().count(), 6);

    let replayed = Memcached::start();
    let replay = format!("replay:{}", recording.display());
    run(&replayed, &replay, &["--replay-end", "stop"]);
    assert_eq!(
        pulse_testkit::status_cycle(&replayed),
        Some(6),
        "the replay stops after its last line"
    );

    let keys: Vec<String> = pulse_testkit::dashboard_keys(&live)
        .into_iter()
        .filter(|k| k != "pulse:status")
        .collect();
    for key in &keys {
        let (a, b) = (live.get(key).unwrap(), replayed.get(key).unwrap());
        assert!(
            a == b,
            "{key} differs:\nlive:   {}\nreplay: {}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }

    // The plugin that reads the clocks got the last snapshot's time in both runs, and random
    // numbers seeded from the cycle (equal in both, since the breakdowns are).
    let last: serde_json::Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    let market_ms = last["timestamp_ms"].as_f64().unwrap();
    for memcached in [&live, &replayed] {
        let breakdown = memcached.json(&pulse_keys::breakdown_key("BTCUSDT"));
        let read = &breakdown["analyzers"]["clock-reader"]["components"];
        assert_eq!(read["wall_ms"].as_f64(), Some(market_ms), "{breakdown}");
        assert_eq!(read["monotonic_ms"].as_f64(), Some(market_ms), "{breakdown}");
        assert_eq!(read["market_ms"].as_f64(), Some(market_ms), "{breakdown}");
        assert!(
            read["random"].as_f64().unwrap() != read["insecure"].as_f64().unwrap(),
            "{breakdown}"
        );
        // Candles came with the recording: the forming candle's close is the last price.
        assert_eq!(read["last_close"], breakdown_price(memcached), "{breakdown}");
    }
}

/// BTCUSDT's price in `market:tickers`.
fn breakdown_price(memcached: &Memcached) -> serde_json::Value {
    memcached.json(pulse_keys::TICKERS)["BTCUSDT"]["price"].clone()
}

#[test]
fn a_restart_takes_back_the_saved_history_so_the_first_push_is_whole() {
    let mode = Arc::new(Mutex::new(Mode::Good));
    let url = fake_exchange(mode, |_| (200, bybit_body(6, false)));
    // The trend analyzer of contract 0.1.0 reads the cycle's own samples (15 for its slow EMA),
    // which no source can backfill: only the saved state can give them back.
    let plugins = tempfile::tempdir().unwrap();
    let old_trend = pulse_testkit::repo_root().join("tests/fixtures/contract-0.1.0/trend.wasm");
    std::fs::copy(old_trend, plugins.path().join("trend.wasm")).unwrap();
    std::fs::copy(
        pulse_testkit::plugin_wasm("dashboard"),
        plugins.path().join("dashboard.wasm"),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let run = |memcached: &Memcached, state_dir: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "--source",
            "bybit",
            "--stream",
            "false",
            "--exchange-url",
            &url,
            "--state-dir",
            state_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Daemon::serve(plugins.path().to_str().unwrap(), &memcached.addr, &args)
    };
    let mut first = run(
        &Memcached::start(),
        state.path(),
        &["--interval", "0.1", "--cycles", "20"],
    );
    assert!(first.wait(), "{}", first.log());
    assert!(state.path().join("bybit.json").is_file(), "{}", first.log());

    // The first push after the restart: the slow EMA is there at cycle 1.
    let first_push = |memcached: &Memcached| {
        wait_for("the first push", Duration::from_secs(30), || {
            let breakdown: Value = serde_json::from_slice(&memcached.get("analysis:breakdown:C00USDT")?).ok()?;
            (breakdown["cycle"] == 1).then_some(breakdown)
        })
    };
    let warm = Memcached::start();
    let restarted = run(&warm, state.path(), &["--interval", "20", "--ttl", "60"]);
    let breakdown = first_push(&warm);
    assert!(
        breakdown["analyzers"]["trend"]["components"]["ema_slow"].is_number(),
        "{breakdown}\n{}",
        restarted.log()
    );
    assert!(
        restarted
            .log()
            .contains("warm start: took back the history of 6 symbols"),
        "{}",
        restarted.log()
    );

    // Without the saved state, the same daemon starts cold: no slow EMA at cycle 1.
    let empty = tempfile::tempdir().unwrap();
    let cold = Memcached::start();
    let cold_daemon = run(&cold, empty.path(), &["--interval", "20", "--ttl", "60"]);
    let breakdown = first_push(&cold);
    assert!(
        breakdown["analyzers"]["trend"]["components"].get("ema_slow").is_none(),
        "{breakdown}\n{}",
        cold_daemon.log()
    );
}
