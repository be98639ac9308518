//! Streaming exchange sources against a loopback exchange speaking each dialect (REST and
//! WebSocket, `pulse_testkit::exchange`): streamed prices reach plugins with their age while
//! cycles keep their cadence; a dropped connection is a gap per symbol, resynced by REST; a
//! silent connection is noticed within a few push intervals; a silently lost delta is healed
//! by the reconciliation and counted; malformed messages are counted and dropped; and what the
//! daemon sent stays within the exchange's limits, read from the exchange's own log.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pulse_testkit::exchange::{Dialect, Logged, LoopbackExchange};
use pulse_testkit::{http_get, plugin_dir, scrape, wait_for, Daemon, Memcached};
use serde_json::Value;

/// A daemon streaming from `exchange`, 10 symbols analysed of 30 listed, with `extra` flags.
fn streaming(exchange: &LoopbackExchange, memcached: &Memcached, extra: &[&str]) -> (Daemon, tempfile::TempDir) {
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let mut args: Vec<String> = exchange.args();
    args.extend(
        ["--interval", "0.5", "--ttl", "5", "--symbols", "10", "--max-age", "10"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (
        Daemon::serve(plugins.path().to_str().unwrap(), &memcached.addr, &args),
        plugins,
    )
}

fn status(memcached: &Memcached) -> Option<Value> {
    serde_json::from_slice(&memcached.get("pulse:status")?).ok()
}

/// Waits until every streamed symbol is gap-free, and returns `/stream`.
fn all_live(daemon: &Daemon, listed: u64) -> Value {
    wait_for("every symbol gap-free", Duration::from_secs(30), || {
        let (code, body) = http_get(&format!("{}/stream", daemon.status_url()));
        let doc: Value = serde_json::from_str(&body).ok()?;
        (code == 200 && doc["symbols_live"].as_u64() == Some(listed) && doc["connections"].as_u64() >= Some(1))
            .then_some(doc)
    })
}

fn metric(daemon: &Daemon, series: &str) -> f64 {
    scrape(&daemon.status_url()).get(series).copied().unwrap_or(0.0)
}

fn source(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Bybit => "bybit",
        Dialect::BybitSpot => "bybit:spot",
        Dialect::Binance => "binance",
    }
}

/// Streamed prices reach the plugins' keys, each symbol's data age is shown and small, and
/// cycles keep their cadence; returns the exchange, for its log.
fn prices_stream_to_plugins(dialect: Dialect) -> LoopbackExchange {
    let exchange = LoopbackExchange::start(dialect, 30);
    // A quiet market for some symbols: the exchange sends no change of them.
    for i in 20..30 {
        exchange.freeze(&format!("SYM{i:04}USDT"));
    }
    let memcached = Memcached::start();
    let (daemon, _plugins) = streaming(&exchange, &memcached, &[]);
    all_live(&daemon, 30);

    // Freshness: every symbol's data age at each cycle's snapshot, over ten cycles.
    let mut ages = Vec::new();
    let first = status(&memcached).unwrap()["cycle"].as_u64().unwrap();
    let started = Instant::now();
    let mut seen = first;
    while seen < first + 10 {
        let (_, body) = http_get(&format!("{}/stream", daemon.status_url()));
        let doc: Value = serde_json::from_str(&body).unwrap();
        ages.extend(
            doc["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["data_age_ms"].as_i64().unwrap()),
        );
        seen = wait_for("the next cycle", Duration::from_secs(5), || {
            status(&memcached)
                .and_then(|s| s["cycle"].as_u64())
                .filter(|&c| c > seen)
        });
    }
    let cadence = started.elapsed().as_secs_f64() / 10.0;
    ages.sort_unstable();
    let at = |q: f64| ages[((ages.len() - 1) as f64 * q) as usize];
    println!(
        "{} freshness over 10 cycles: data age p50 {} ms, p99 {} ms, max {} ms (push interval {} ms); {cadence:.2} s a cycle",
        source(dialect),
        at(0.5),
        at(0.99),
        ages[ages.len() - 1],
        dialect.push_interval().as_millis()
    );
    // Quiet symbols included, every symbol is as fresh as its connection's newest message: a
    // push interval old, and a cycle's wait for the status server.
    let fresh = (dialect.push_interval() * 2 + Duration::from_millis(1_500)).as_millis() as i64;
    assert!(
        ages[ages.len() - 1] < fresh,
        "every symbol as fresh as its connection: {ages:?}"
    );
    assert!(cadence < 1.0, "cycles keep their 0.5 s cadence: {cadence:.2} s a cycle");

    // The plugins see the exchange's prices: the dashboard's tickers are the stream's.
    let tickers = memcached.json("market:tickers");
    let symbol = "SYM0000USDT";
    let shown = tickers[symbol]["price"].as_f64().expect("the top symbol is analysed");
    let truth = exchange.price(symbol);
    assert!(
        (shown / truth - 1.0).abs() < 0.01,
        "{shown} against the exchange's {truth}"
    );
    let status = status(&memcached).unwrap();
    assert_eq!(status["stream"]["symbols_live"], 30, "{status}");
    assert!(status["stream"]["messages"].as_u64() > Some(30), "{status}");
    let (_, health) = http_get(&format!("{}/healthz", daemon.status_url()));
    assert!(health.contains("streams: 1 connected, 30 symbols gap-free"), "{health}");
    exchange
}

#[test]
fn bybit_prices_stream_to_plugins_with_their_age_at_the_cycle_s_cadence() {
    prices_stream_to_plugins(Dialect::Bybit);
}

/// Bybit spot pushes whole snapshots every 50 ms and refuses a request of more than 10 topics:
/// the daemon's requests stay within that, and its 30 tickers and the analysed symbols'
/// candles are all subscribed.
#[test]
fn bybit_spot_streams_snapshots_in_requests_of_at_most_ten_topics() {
    let exchange = prices_stream_to_plugins(Dialect::BybitSpot);
    let requests: Vec<usize> = exchange
        .log()
        .into_iter()
        .filter_map(|(_, _, what)| match what {
            Logged::Subscribe(topics) => Some(topics),
            _ => None,
        })
        .collect();
    assert!(
        requests.iter().all(|&topics| topics <= 10),
        "spot requests of at most 10 topics: {requests:?}"
    );
    assert!(
        requests.iter().sum::<usize>() >= 30,
        "every ticker subscribed: {requests:?}"
    );
}

#[test]
fn binance_prices_stream_to_plugins_with_their_age_at_the_cycle_s_cadence() {
    prices_stream_to_plugins(Dialect::Binance);
}

/// Dropped connections are a gap for each of their symbols, resynced by REST once the stream
/// is back; a stalled one is noticed within a few push intervals; the daemon's requests stay
/// within the exchange's limits throughout.
fn disconnects_and_stalls_are_gaps_resynced_by_rest(dialect: Dialect) {
    let exchange = LoopbackExchange::start(dialect, 30);
    let memcached = Memcached::start();
    let (daemon, _plugins) = streaming(&exchange, &memcached, &[]);
    all_live(&daemon, 30);
    let label = source(dialect);
    let series = |name: &str, reason: Option<&str>| match reason {
        Some(reason) => format!("pulse_stream_{name}_total{{source=\"{label}\",reason=\"{reason}\"}}"),
        None => format!("pulse_stream_{name}_total{{source=\"{label}\"}}"),
    };
    let resyncs = metric(&daemon, &series("resyncs", None));

    let dropped_at = pulse_testkit::unix_ms();
    exchange.drop_connections();
    wait_for("the gaps of the dropped connection", Duration::from_secs(10), || {
        (metric(&daemon, &series("gaps", Some("disconnect"))) >= 30.0).then_some(())
    });
    // The status server may still show the cycle before the drop for a moment: wait until
    // every symbol is gap-free again, each only since after the drop (resynced).
    wait_for("every symbol resynced after the drop", Duration::from_secs(30), || {
        let stream = all_live(&daemon, 30);
        stream["symbols"]
            .as_array()?
            .iter()
            .all(|s| s["gap_free_since_ms"].as_i64() > Some(dropped_at))
            .then_some(())
    });
    assert!(metric(&daemon, &series("reconnects", None)) >= 1.0);
    assert!(metric(&daemon, &series("resyncs", None)) >= resyncs + 30.0);

    let stalled = Instant::now();
    exchange.stall(Duration::from_secs(8));
    wait_for("the stall noticed", Duration::from_secs(8), || {
        (metric(&daemon, &series("gaps", Some("silence"))) >= 30.0).then_some(())
    });
    let noticed = stalled.elapsed();
    println!(
        "{label}: a silent connection noticed after {:.1} s (push interval {} ms)",
        noticed.as_secs_f64(),
        dialect.push_interval().as_millis()
    );
    // Lost after four push intervals of silence (at least 2 s), give or take a cycle and a
    // scrape.
    let limit = (dialect.push_interval() * 4).max(Duration::from_secs(2)) + Duration::from_millis(1_500);
    assert!(noticed < limit, "noticed within a few push intervals: {noticed:?}");
    all_live(&daemon, 30);

    // The limits, from the exchange's log: requests per connection per second, and
    // connections opened.
    let log = exchange.log();
    let opened = log.iter().filter(|(_, _, what)| *what == Logged::Opened).count();
    assert!((2..=10).contains(&opened), "{opened} connections opened");
    // The pace the daemon keeps to (below Binance's 5 incoming messages a second; Bybit
    // publishes no rate, and gets the same).
    let per_second = 5;
    for (at, connection, _) in &log {
        let within: usize = log
            .iter()
            .filter(|(t, c, what)| {
                // What the client sent on the connection: requests and heartbeats (Binance
                // counts pongs too).
                let sent = match what {
                    Logged::Subscribe(_) | Logged::Unsubscribe(_) | Logged::Ping => true,
                    Logged::Pong => dialect == Dialect::Binance,
                    Logged::Opened | Logged::Closed | Logged::Klines(..) => false,
                };
                c == connection && sent && *t >= *at && t.duration_since(*at) < Duration::from_secs(1)
            })
            .count();
        assert!(
            within <= per_second,
            "{within} messages within a second on connection {connection}"
        );
    }
}

#[test]
fn bybit_disconnects_and_stalls_are_gaps_resynced_by_rest_within_the_limits() {
    disconnects_and_stalls_are_gaps_resynced_by_rest(Dialect::Bybit);
}

#[test]
fn binance_disconnects_and_stalls_are_gaps_resynced_by_rest_within_the_limits() {
    disconnects_and_stalls_are_gaps_resynced_by_rest(Dialect::Binance);
}

/// A daemon streaming from `exchange` with `config` as its `[market]` table.
fn streaming_with(
    exchange: &LoopbackExchange,
    memcached: &Memcached,
    market: &str,
) -> (Daemon, tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    std::fs::write(&config, format!("[market]\n{market}")).unwrap();
    let (daemon, plugins) = streaming(exchange, memcached, &["--config", config.to_str().unwrap()]);
    (daemon, plugins, dir)
}

/// Each symbol's `gap_free_since_ms` on `/stream`.
fn gap_free_since(daemon: &Daemon) -> BTreeMap<String, Value> {
    let (_, body) = http_get(&format!("{}/stream", daemon.status_url()));
    let doc: Value = serde_json::from_str(&body).unwrap();
    doc["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["symbol"].as_str().unwrap().to_string(),
                s["gap_free_since_ms"].clone(),
            )
        })
        .collect()
}

/// A connection replaced (after `rotate_after`, or when the exchange says it will close it)
/// loses no update: its successor is subscribed before it closes, and no symbol has a gap. A
/// listing and a delisting change the subscriptions.
fn rotations_lose_nothing_and_listings_change_subscriptions(dialect: Dialect, market: &str, shutdown: bool) {
    let exchange = LoopbackExchange::start(dialect, 30);
    let memcached = Memcached::start();
    let (daemon, _plugins, _config) = streaming_with(&exchange, &memcached, market);
    all_live(&daemon, 30);
    let label = source(dialect);
    let since = gap_free_since(&daemon);
    let rotations = format!("pulse_stream_rotations_total{{source=\"{label}\"}}");
    if shutdown {
        exchange.send_raw(&format!(r#"{{"e":"serverShutdown","E":{}}}"#, pulse_testkit::unix_ms()));
    }
    wait_for("a connection replaced", Duration::from_secs(40), || {
        (metric(&daemon, &rotations) >= 1.0).then_some(())
    });
    assert_eq!(gap_free_since(&daemon), since, "no symbol had a gap");
    for series in ["reconnects", "corrected_fields"] {
        assert_eq!(
            metric(&daemon, &format!("pulse_stream_{series}_total{{source=\"{label}\"}}")),
            0.0,
            "{series}"
        );
    }
    // From the exchange's log: the successor was subscribed before the old connection closed.
    let log = exchange.log();
    let closed = log
        .iter()
        .find(|(_, _, what)| *what == Logged::Closed)
        .expect("the old connection closed");
    let successor = log
        .iter()
        .find(|(_, c, what)| *c != closed.1 && matches!(what, Logged::Subscribe(_)))
        .expect("the successor subscribed");
    assert!(
        successor.0 < closed.0,
        "the successor subscribed before the old connection closed"
    );

    // A listing: subscribed, resynced and analysed (it has the largest turnover).
    exchange.list("NEWUSDT");
    wait_for("the listing streamed", Duration::from_secs(30), || {
        gap_free_since(&daemon)
            .get("NEWUSDT")
            .filter(|s| s.is_i64())
            .map(|_| ())
    });
    wait_for("the listing analysed", Duration::from_secs(10), || {
        // Listed at 50, it walks as every symbol does.
        memcached.json("market:tickers")["NEWUSDT"]["price"]
            .as_f64()
            .filter(|p| (p / 50.0 - 1.0).abs() < 0.05)
    });
    // A delisting: unsubscribed and forgotten.
    exchange.delist("SYM0001USDT");
    wait_for("the delisting unsubscribed", Duration::from_secs(30), || {
        let unsubscribed = exchange
            .log()
            .iter()
            .any(|(_, _, what)| matches!(what, Logged::Unsubscribe(_)));
        (unsubscribed && !gap_free_since(&daemon).contains_key("SYM0001USDT")).then_some(())
    });
}

#[test]
fn bybit_rotations_lose_nothing_and_listings_change_subscriptions() {
    rotations_lose_nothing_and_listings_change_subscriptions(
        Dialect::Bybit,
        "reconcile_every = 5\nstream_rotate_after = 10\n",
        false,
    );
}

#[test]
fn binance_server_shutdown_rotates_without_a_gap_and_listings_change_subscriptions() {
    rotations_lose_nothing_and_listings_change_subscriptions(Dialect::Binance, "reconcile_every = 5\n", true);
}

#[test]
fn a_silently_lost_delta_is_healed_by_the_reconciliation_and_counted() {
    let exchange = LoopbackExchange::start(Dialect::Bybit, 30);
    let memcached = Memcached::start();
    let (daemon, _plugins, _config) = streaming_with(&exchange, &memcached, "reconcile_every = 5\n");
    all_live(&daemon, 30);
    let symbol = "SYM0002USDT";
    let counted = |name: &str| metric(&daemon, name);
    let (corrected_series, diverged_series) = (
        "pulse_stream_corrected_fields_total{source=\"bybit\"}",
        "pulse_stream_gaps_total{source=\"bybit\",reason=\"diverged\"}",
    );
    let (corrected_before, diverged_before) = (counted(corrected_series), counted(diverged_series));
    let before = exchange.price(symbol);
    exchange.lose_update(symbol, (before * 1.004 * 1e6).round() / 1e6);
    let lost_at = Instant::now();
    let truth = exchange.price(symbol);
    // The stream never says it; only a reconciliation can.
    wait_for("the lost delta corrected", Duration::from_secs(20), || {
        let tickers = memcached.json("market:tickers");
        (tickers[symbol]["price"].as_f64() == Some(truth)).then_some(())
    });
    println!(
        "a lost delta healed {:.1} s after it was lost (reconcile_every 5 s)",
        lost_at.elapsed().as_secs_f64()
    );
    assert!(counted(corrected_series) >= corrected_before + 1.0);
    assert!(counted(diverged_series) >= diverged_before + 1.0);
}

/// Malformed messages are counted and dropped, never reach a plugin, and the connection goes on.
fn malformed_messages_are_counted_and_dropped(dialect: Dialect, bad: &[&str]) {
    let exchange = LoopbackExchange::start(dialect, 30);
    let memcached = Memcached::start();
    let (daemon, _plugins) = streaming(&exchange, &memcached, &[]);
    all_live(&daemon, 30);
    for text in bad {
        exchange.send_raw(text);
    }
    let label = source(dialect);
    let series =
        format!("pulse_stream_messages_rejected_total{{source=\"{label}\",reason=\"not a documented message\"}}");
    wait_for("the malformed messages counted", Duration::from_secs(10), || {
        (metric(&daemon, &series) >= bad.len() as f64).then_some(())
    });
    let cycle = status(&memcached).unwrap()["cycle"].as_u64().unwrap();
    wait_for("cycles going on", Duration::from_secs(5), || {
        status(&memcached).filter(|s| s["cycle"].as_u64() > Some(cycle + 2))
    });
    let tickers = memcached.json("market:tickers");
    for (symbol, row) in tickers.as_object().unwrap() {
        assert!(row["price"].as_f64().unwrap() > 0.0, "{symbol}: {row}");
    }
    assert_eq!(
        metric(&daemon, &format!("pulse_stream_connections{{source=\"{label}\"}}")),
        1.0
    );
}

#[test]
fn bybit_malformed_messages_are_counted_and_dropped() {
    malformed_messages_are_counted_and_dropped(
        Dialect::Bybit,
        &[
            "{not json",
            r#"{"topic":"tickers.SYM0001USDT","type":"delta","ts":1}"#,
            r#"{"topic":"tickers.SYM0001USDT","type":"sideways","data":{"symbol":"SYM0001USDT"},"ts":1}"#,
            r#"{"topic":"kline.7.SYM0001USDT","type":"snapshot","data":[],"ts":1}"#,
        ],
    );
}

#[test]
fn binance_malformed_messages_are_counted_and_dropped() {
    malformed_messages_are_counted_and_dropped(
        Dialect::Binance,
        &[
            "[1,2]",
            r#"{"e":"24hrTicker","s":"SYM0001USDT"}"#,
            r#"{"e":"flashCrash","E":1}"#,
        ],
    );
}

/// A recording made from a streaming source replays like any other: its rows carry when each
/// symbol's newest data was sent, and the replay writes the very same keys.
#[test]
fn a_streamed_recording_replays_into_the_same_keys() {
    let exchange = LoopbackExchange::start(Dialect::Bybit, 30);
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("market.jsonl");
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let live = Memcached::start();
    let mut args = exchange.args();
    args.extend(
        [
            "--record",
            recording.to_str().unwrap(),
            "--cycles",
            "16",
            "--interval",
            "0.5",
            "--ttl",
            "60",
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut daemon = Daemon::serve(plugins.path().to_str().unwrap(), &live.addr, &args);
    assert!(daemon.wait(), "{}", daemon.log());
    let lines = std::fs::read_to_string(&recording).unwrap();
    assert_eq!(lines.lines().count(), 16);
    let last: Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert!(
        last["tickers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["data_ms"].is_i64()),
        "each streamed row says when its data was sent: {last}"
    );

    let replayed = Memcached::start();
    let replay = format!("replay:{}", recording.display());
    let args = [
        "--source",
        &replay,
        "--replay-end",
        "stop",
        "--interval",
        "0.2",
        "--ttl",
        "60",
    ];
    let mut daemon = Daemon::serve(plugins.path().to_str().unwrap(), &replayed.addr, &args);
    assert!(daemon.wait(), "{}", daemon.log());
    let keys: Vec<String> = pulse_testkit::dashboard_keys(&live)
        .into_iter()
        .filter(|k| k != "pulse:status")
        .collect();
    assert!(keys.len() > 10, "{keys:?}");
    for key in &keys {
        let (a, b) = (live.get(key).unwrap(), replayed.get(key).unwrap());
        assert!(
            a == b,
            "{key} differs:\nlive:   {}\nreplay: {}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
}

/// Closed candles of the analysed symbols arrive by stream and need no request; a close the
/// stream never delivered is fetched by REST once the grace for it has passed.
#[test]
fn closed_candles_arrive_by_stream_and_a_lost_close_is_fetched() {
    let exchange = LoopbackExchange::start(Dialect::Bybit, 30);
    let memcached = Memcached::start();
    let (daemon, _plugins) = streaming(&exchange, &memcached, &[]);
    all_live(&daemon, 30);
    let analysed: Vec<String> = (0..10).map(|i| format!("SYM{i:04}USDT")).collect();
    let minute_requests = |after: Instant, symbol: &str| {
        exchange
            .log()
            .iter()
            .filter(|(at, _, what)| *at > after && *what == Logged::Klines(symbol.to_string(), "1".to_string()))
            .count()
    };
    let start = Instant::now() - Duration::from_secs(3600);
    wait_for("the analysed symbols backfilled", Duration::from_secs(20), || {
        analysed.iter().all(|s| minute_requests(start, s) > 0).then_some(())
    });
    let lost = "SYM0003USDT";
    exchange.lose_next_close(lost);
    // The next minute's close, and the grace the backfill gives the stream after it.
    let to_close = 60_000 - pulse_testkit::unix_ms().rem_euclid(60_000);
    let closing = Instant::now() + Duration::from_millis(to_close as u64);
    std::thread::sleep(Duration::from_millis(to_close as u64) + Duration::from_secs(14));
    for symbol in analysed.iter().filter(|s| *s != lost) {
        assert_eq!(minute_requests(closing, symbol), 0, "{symbol}'s close came by stream");
    }
    assert!(
        minute_requests(closing, lost) >= 1,
        "the lost close of {lost} was fetched"
    );
}
