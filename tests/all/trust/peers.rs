//! Peers gone wrong: an exchange that answers endlessly or with absurd numbers, a memcached
//! that answers with an endless line or announces a giant value. The daemon keeps its cadence,
//! stays within its memory bound, says what it refused, and writes nothing absurd.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use super::files::logged;
use pulse_testkit::{plugin_dir, pulse, scrape, status_cycle, text, wait_for, Daemon, Memcached};

/// A Bybit ticker row; `symbol` at `price`, with the rest sensible unless `row` changes it.
fn row(symbol: &str, price: f64, turnover: f64) -> Value {
    json!({
        "symbol": symbol, "lastPrice": price.to_string(), "price24hPcnt": "0.01",
        "highPrice24h": (price * 1.05).to_string(), "lowPrice24h": (price * 0.95).to_string(),
        "turnover24h": turnover.to_string(), "volume24h": (turnover / price).to_string()
    })
}

/// A loopback Bybit whose tickers answer is `body(poll)` for each poll from 0, streamed so an
/// endless one can be served: `None` sends bytes without end.
fn exchange(body: impl Fn(usize) -> Option<String> + Send + Sync + 'static) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let body = std::sync::Arc::new(body);
    std::thread::spawn(move || {
        for (poll, request) in server.incoming_requests().enumerate() {
            if !request.url().starts_with("/v5/market/tickers") {
                let _ = request.respond(tiny_http::Response::from_string("{}").with_status_code(404));
                continue;
            }
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = match body(poll) {
                    Some(text) => request.respond(tiny_http::Response::from_string(text)),
                    // 200 MB of one JSON string, without a length: the daemon must stop early.
                    None => request.respond(tiny_http::Response::new(
                        200.into(),
                        Vec::new(),
                        std::io::repeat(b' ').take(200 << 20),
                        None,
                        None,
                    )),
                };
            });
        }
    });
    url
}

/// A tickers answer of `rows`.
fn tickers(rows: Vec<Value>) -> String {
    json!({"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": rows}, "time": 1}).to_string()
}

/// A daemon on `url` as Bybit, every 0.5 s, once it has pushed; with the plugin directory it
/// serves from.
fn serve_exchange(memcached: &Memcached, url: &str) -> (Daemon, tempfile::TempDir) {
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &[
            "--interval",
            "0.5",
            "--source",
            "bybit",
            "--stream",
            "false",
            "--exchange-url",
            url,
        ],
    );
    wait_for("a push", Duration::from_secs(60), || status_cycle(memcached));
    (daemon, plugins)
}

#[test]
fn an_endless_exchange_answer_is_cut_at_its_bound_and_the_cycles_go_on() {
    let memcached = Memcached::start();
    let good = tickers(
        (0..12)
            .map(|i| row(&format!("C{i:02}USDT"), 100.0 + i as f64, 1e9 / (i as f64 + 1.0)))
            .collect(),
    );
    let url = exchange(move |poll| (poll < 2).then(|| good.clone()));
    let (daemon, _plugins) = serve_exchange(&memcached, &url);
    logged(&daemon, "larger than the limit of 16777216 bytes", 1);
    let start = status_cycle(&memcached).unwrap();
    wait_for("cycles to go on", Duration::from_secs(30), || {
        status_cycle(&memcached).filter(|c| *c >= start + 4)
    });
    let status = memcached.json("pulse:status");
    assert_eq!(
        status["stale"], true,
        "the last good snapshot serves, marked stale: {status}"
    );
    super::holds(&daemon, &memcached, Duration::from_millis(500));
}

#[test]
fn absurd_numbers_from_an_exchange_are_dropped_counted_and_never_published() {
    let memcached = Memcached::start();
    let mut rows: Vec<Value> = (0..10)
        .map(|i| row(&format!("C{i:02}USDT"), 100.0 + i as f64, 1e9 / (i as f64 + 1.0)))
        .collect();
    rows.push(row("BTCUSDT", 95_000.0, 5e9));
    let mut far = row("FARUSDT", 100.0, 1e9);
    far["lastPrice"] = json!("1e308");
    let mut huge = row("HUGEUSDT", 100.0, 1e9);
    huge["volume24h"] = json!("1e308");
    huge["turnover24h"] = json!("1e308");
    let mut huger = huge.clone();
    huger["symbol"] = json!("HUGERUSDT");
    rows.extend([far, huge, huger]);
    let body = tickers(rows);
    let url = exchange(move |_| Some(body.clone()));
    let (daemon, _plugins) = serve_exchange(&memcached, &url);

    let overview = memcached.json(pulse_keys::OVERVIEW);
    let total = overview["total_volume_24h"].as_f64().expect("a total, not null");
    assert!(total.is_finite() && total < 1e12, "{overview}");
    assert!(overview["btc_dominance"].as_f64().unwrap() > 10.0, "{overview}");
    let tickers = memcached.json(pulse_keys::TICKERS);
    for symbol in ["FARUSDT", "HUGEUSDT", "HUGERUSDT"] {
        assert!(tickers.get(symbol).is_none(), "{symbol} is not published: {tickers}");
    }
    let metrics = scrape(&daemon.status_url());
    let rejected = |reason: &str| {
        metrics
            .get(&format!("pulse_source_rows_rejected_total{{reason=\"{reason}\"}}"))
            .copied()
    };
    assert!(rejected("a number beyond 1e18").unwrap_or(0.0) >= 3.0, "{metrics:?}");
}

/// A memcached gone wrong on loopback: it answers whatever it is sent with `answer`, then
/// closes. Returns its address.
fn hostile_memcached(answer: fn(&mut std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                if stream.read(&mut first).unwrap_or(0) > 0 {
                    answer(&mut stream);
                }
            });
        }
    });
    addr
}

/// Up to 200 MB of one reply line, never ended.
fn endless_line(stream: &mut std::net::TcpStream) {
    let chunk = vec![b'x'; 1 << 16];
    for _ in 0..3200 {
        if stream.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// A value header announcing 1 GiB, then nothing.
fn giant_value(stream: &mut std::net::TcpStream) {
    let _ = stream.write_all(b"VA 1073741824 f0\r\n");
    std::thread::sleep(Duration::from_secs(5));
}

#[test]
fn a_memcached_answering_endlessly_costs_a_kilobyte_and_the_cycles_go_on() {
    let real = Memcached::start();
    let hostile = hostile_memcached(endless_line);
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    // Every key on both servers: the real one shows the cycles going on.
    let servers = format!("{},{}", real.addr, hostile);
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &servers,
        &["--interval", "0.5", "--mirror"],
    );
    logged(&daemon, &format!("memcached {hostile} down"), 1);
    assert!(
        daemon.log().contains("a reply line without its end"),
        "{}",
        daemon.log()
    );
    let start = wait_for("a push", Duration::from_secs(60), || status_cycle(&real));
    wait_for("cycles to go on", Duration::from_secs(30), || {
        status_cycle(&real).filter(|c| *c >= start + 6)
    });
    super::holds(&daemon, &real, Duration::from_millis(500));

    // `pulse verify` against either kind of hostile server fails with the reason, at once.
    for (answer, reason) in [
        (
            endless_line as fn(&mut std::net::TcpStream),
            "a reply line without its end",
        ),
        (giant_value, "announces a value of 1073741824 bytes"),
    ] {
        let addr = hostile_memcached(answer);
        let out = pulse(&["verify", "--memcached", &addr]);
        assert!(!out.status.success() && text(&out).contains(reason), "{}", text(&out));
    }
}

#[test]
fn a_memcached_flapping_every_cycle_logs_a_few_lines_a_minute() {
    let memcached = Memcached::start();
    let proxy = pulse_testkit::proxy::Proxy::start(&memcached.addr);
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let daemon = Daemon::serve(plugins.path().to_str().unwrap(), &proxy.addr, &["--interval", "0.3"]);
    wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    let url = daemon.status_url();
    let reconnects = || scrape(&url).get("pulse_cache_reconnects_total").copied().unwrap_or(0.0);
    for _ in 0..10 {
        proxy.cut();
        std::thread::sleep(Duration::from_millis(500));
        proxy.heal();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(reconnects() >= 6.0, "it flapped {} times", reconnects());
    let log = daemon.log();
    let changes = log
        .lines()
        .filter(|l| {
            l.contains(&format!("memcached {} down", proxy.addr))
                || l.contains(&format!("memcached {} back", proxy.addr))
        })
        .count();
    assert!(changes <= 4, "{changes} lines of down and back in ten seconds:\n{log}");
    assert!(changes >= 2, "the first changes are said:\n{log}");
    super::holds(&daemon, &memcached, Duration::from_millis(300));
}
