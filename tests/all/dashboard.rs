//! The reference dashboard (`examples/dashboard`) in real headless Chromium, against the real
//! daemon and a real memcached: the values on the page are the keys' values, the stale banner
//! appears when the daemon stops, and phone-size screenshots are saved under target/dashboard/.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pulse_dashboard::{Dashboard, TOP_SIGNALS};
use pulse_testkit::{plugin_dir, repo_root, status_cycle, unix_ms, wait_for, Daemon, Memcached};
use serde_json::Value;

/// A phone's viewport, in CSS pixels.
const PHONE: (u32, u32) = (390, 844);

/// Serves the dashboard for the rest of the test process on a free loopback port.
fn serve_dashboard(memcached: &str) -> String {
    let memcached = memcached.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let dashboard = Arc::new(Dashboard::connect(&memcached).await.unwrap());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, dashboard.router()).await.unwrap();
        });
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the dashboard server starts");
    format!("http://{addr}/")
}

/// Runs headless Chromium on `url` with `args` (after the page's script has run) and returns
/// what it printed.
fn chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let stdout = profile.path().join("stdout");
    let window = format!("--window-size={},{}", PHONE.0, PHONE.1);
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &window,
            &format!("--user-data-dir={}", profile.path().join("profile").display()),
            // Virtual time runs the first fetch and render, then stops; no real waiting.
            "--virtual-time-budget=3000",
        ])
        .args(args)
        .arg(url)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run chromium ({e}); install it with `apt-get install -y chromium` or run scripts/setup-tests"
            )
        });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium failed: {status}");
    std::fs::read_to_string(&stdout).unwrap()
}

/// The page's DOM after its script ran.
fn page_dom(url: &str) -> String {
    let dom = chromium(url, &["--dump-dom"]);
    assert!(dom.contains("id=\"regime\""), "not the dashboard page:\n{dom}");
    dom
}

/// Saves a phone-size screenshot of `url` to `path` and checks it is a PNG of that size.
fn screenshot(url: &str, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    chromium(url, &[&format!("--screenshot={}", path.display())]);
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), PHONE, "screenshot size");
}

/// The text of the element with `id` (up to its first child tag).
fn text(dom: &str, id: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let start = at + dom[at..].find('>').unwrap() + 1;
    let end = start + dom[start..].find('<').unwrap();
    dom[start..end].replace("&amp;", "&")
}

/// Whether the element with `id` carries the `hidden` attribute.
fn hidden(dom: &str, id: &str) -> bool {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap();
    let tag_end = at + dom[at..].find('>').unwrap();
    dom[at..tag_end].contains("hidden")
}

/// The rows of list `id`: each row's symbol and span texts.
fn rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap();
    let list = &dom[at..at + dom[at..].find("</ul>").unwrap()];
    list.split("<li data-symbol=")
        .skip(1)
        .map(|li| {
            li.split("<span")
                .skip(1)
                .map(|span| {
                    let start = span.find('>').unwrap() + 1;
                    span[start..start + span[start..].find('<').unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

/// A number as the page shows it (`+1.23%`, `$26.37B`, `61.5`), in the key's unit.
fn shown_number(text: &str) -> f64 {
    let t = text.trim_start_matches('$').trim_end_matches('%');
    let (t, scale) = match t.chars().last() {
        Some('T') => (&t[..t.len() - 1], 1e12),
        Some('B') => (&t[..t.len() - 1], 1e9),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('K') => (&t[..t.len() - 1], 1e3),
        _ => (t, 1.0),
    };
    t.parse::<f64>()
        .unwrap_or_else(|_| panic!("the page shows {text:?}, not a number"))
        * scale
}

/// Asserts that `shown` is `value` rounded to `decimals` places (of `scale`).
fn assert_shows(what: &str, shown: &str, value: &Value, decimals: i32, scale: f64) {
    let value = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: the key holds {value}, not a number"));
    let tolerance = 0.5 * 10f64.powi(-decimals) * scale + 1e-9 * value.abs();
    assert!(
        (shown_number(shown) - value).abs() <= tolerance,
        "{what}: the page shows {shown:?}, the key holds {value}"
    );
}

/// The scale the page's money format uses for `value`.
fn money_scale(value: f64) -> f64 {
    [1e12, 1e9, 1e6, 1e3]
        .into_iter()
        .find(|d| value.abs() >= *d)
        .unwrap_or(1.0)
}

/// The points of the sparkline in each row of list `id` (`None` for a row without one).
fn sparkline_points(dom: &str, id: &str) -> Vec<Option<Vec<(f64, f64)>>> {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap();
    let list = &dom[at..at + dom[at..].find("</ul>").unwrap()];
    list.split("<li data-symbol=")
        .skip(1)
        .map(|li| {
            let at = li.find("points=\"")? + "points=\"".len();
            let points = &li[at..at + li[at..].find('"')?];
            Some(
                points
                    .split(' ')
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Asserts that `drawn` is the line of `closes` in a 60 × 16 box: evenly spaced, the highest
/// close at the top, the lowest at the bottom.
fn assert_draws(what: &str, drawn: &[(f64, f64)], closes: &[Value]) {
    let closes: Vec<f64> = closes.iter().map(|c| c.as_f64().unwrap()).collect();
    assert_eq!(
        drawn.len(),
        closes.len(),
        "{what}: {} points for {} closes",
        drawn.len(),
        closes.len()
    );
    let (lo, hi) = closes
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &c| (l.min(c), h.max(c)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    for (i, (&(x, y), c)) in drawn.iter().zip(&closes).enumerate() {
        let expected = (
            i as f64 * 60.0 / (closes.len() - 1) as f64,
            16.0 - (c - lo) / span * 16.0,
        );
        assert!(
            (x - expected.0).abs() <= 0.006 && (y - expected.1).abs() <= 0.006,
            "{what}: point {i} is ({x}, {y}), the close {c} makes {expected:?}"
        );
    }
}

/// Reads every key the page shows, with the status's cycle.
fn keys(memcached: &Memcached) -> (u64, [Value; 6], String) {
    let regime = String::from_utf8(memcached.get("analysis:market_regime").expect("analysis:market_regime")).unwrap();
    let values = [
        memcached.json("pulse:status"),
        memcached.json("market:overview"),
        memcached.json("market:breadth"),
        memcached.json("market:movers"),
        memcached.json("analysis:signals"),
        memcached.json(pulse_keys::SPARKLINES),
    ];
    (values[0]["cycle"].as_u64().unwrap(), values, regime)
}

#[test]
fn the_dashboard_shows_the_keys_and_a_stale_banner_when_the_daemon_stops() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    // Cycles 2 s apart, so a page load (about 1 s) and the reads around it often see one cycle.
    let interval_ms = 2000;
    let ttl_ms = 10_000;
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "2", "--ttl", "10"],
    );
    let url = serve_dashboard(&memcached.addr);
    wait_for("cycle 2", Duration::from_secs(30), || {
        status_cycle(&memcached).filter(|c| *c >= 2)
    });

    // Read the keys before and after loading the page; compare when all three agree.
    let (dom, [status, overview, breadth, movers, signals, sparklines], regime) = (0..20)
        .find_map(|_| {
            let before = keys(&memcached);
            let dom = page_dom(&url);
            let after = status_cycle(&memcached);
            let shown: u64 = text(&dom, "cycle").parse().ok()?;
            (shown == before.0 && after == Some(before.0)).then_some((dom, before.1, before.2))
        })
        .expect("the page and the keys never showed the same cycle in 20 tries");

    assert!(hidden(&dom, "stale-banner"), "fresh data is shown as stale:\n{dom}");
    assert_eq!(text(&dom, "regime"), regime);
    assert_eq!(regime, overview["market_regime"]);
    assert_eq!(text(&dom, "source"), status["source"]);
    assert!(
        text(&dom, "data-age").starts_with("updated "),
        "{}",
        text(&dom, "data-age")
    );
    assert_shows(
        "trend strength",
        &text(&dom, "trend-strength"),
        &overview["trend_strength"],
        1,
        1.0,
    );
    assert_shows(
        "volatility",
        &text(&dom, "volatility"),
        &overview["current_volatility"],
        2,
        1.0,
    );
    assert_shows(
        "BTC dominance",
        &text(&dom, "btc-dominance"),
        &overview["btc_dominance"],
        1,
        1.0,
    );
    assert_shows(
        "average change",
        &text(&dom, "average-change"),
        &overview["average_change_24h"],
        2,
        1.0,
    );
    let volume = overview["total_volume_24h"].as_f64().unwrap();
    assert_shows(
        "volume",
        &text(&dom, "total-volume"),
        &overview["total_volume_24h"],
        2,
        money_scale(volume),
    );
    assert_eq!(text(&dom, "symbols"), format!("{} symbols", overview["total_symbols"]));
    assert_shows(
        "breadth",
        &text(&dom, "breadth"),
        &breadth["breadth_percentage"],
        1,
        1.0,
    );
    assert_eq!(
        text(&dom, "breadth-counts"),
        format!(
            "{} up · {} down · {} flat",
            breadth["up_count"], breadth["down_count"], breadth["flat_count"]
        )
    );

    let shown = rows(&dom, "signals");
    let top: Vec<&Value> = signals["signals"]
        .as_array()
        .unwrap()
        .iter()
        .take(TOP_SIGNALS)
        .collect();
    assert!(!top.is_empty(), "no signals to show: {signals}");
    assert_eq!(shown.len(), top.len(), "{shown:?}");
    for (row, signal) in shown.iter().zip(&top) {
        assert_eq!(row[0], signal["symbol"], "{row:?}");
        assert_eq!(row[1], signal["signal"], "{row:?}");
        assert_shows("signal score", &row[2], &signal["score"], 1, 1.0);
    }
    // Each signal and mover is drawn with its sparkline, from the key's closes.
    let lines = &sparklines["symbols"];
    let mut drawn = 0;
    for (list, symbols) in [
        ("signals", top.iter().map(|s| s["symbol"].clone()).collect::<Vec<_>>()),
        (
            "gainers",
            movers["gainers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["symbol"].clone())
                .collect(),
        ),
        (
            "losers",
            movers["losers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["symbol"].clone())
                .collect(),
        ),
    ] {
        for (points, symbol) in sparkline_points(&dom, list).iter().zip(&symbols) {
            let line = &lines[symbol.as_str().unwrap()];
            match (points, line["closes"].as_array()) {
                (Some(points), Some(closes)) => {
                    assert_draws(&format!("{list} {symbol}"), points, closes);
                    drawn += 1;
                }
                (None, closes) => assert!(closes.is_none_or(|c| c.len() < 2), "{list} {symbol}: no line drawn"),
                (Some(_), None) => panic!("{list} {symbol}: a line drawn without a sparkline in the key"),
            }
        }
    }
    assert!(drawn >= top.len(), "only {drawn} sparklines drawn");
    for side in ["gainers", "losers"] {
        let shown = rows(&dom, side);
        let movers = movers[side].as_array().unwrap();
        assert_eq!(shown.len(), movers.len(), "{side}: {shown:?}");
        for (row, mover) in shown.iter().zip(movers) {
            assert_eq!(row[0], mover["symbol"], "{side}: {row:?}");
            assert_shows(side, &row[1], &mover["change_24h"], 2, 1.0);
        }
    }
    let shots = repo_root().join("target/dashboard");
    screenshot(&url, &shots.join("phone.png"));

    // The daemon stops: the keys live on for their TTL, but the page says they are stale.
    assert!(daemon.stop(), "pulse did not exit 0 on SIGTERM");
    let last = status_cycle(&memcached).unwrap();
    let last_written = memcached.json("pulse:status")["timestamp_ms"].as_i64().unwrap();
    let stale_after = last_written + 2 * interval_ms + 1000 + 500;
    std::thread::sleep(Duration::from_millis((stale_after - unix_ms()).max(0) as u64));
    let dom = page_dom(&url);
    assert!(
        unix_ms() < last_written + ttl_ms,
        "the keys expired before the page was read"
    );
    assert!(
        !hidden(&dom, "stale-banner"),
        "no stale banner after the daemon stopped:\n{dom}"
    );
    let banner = text(&dom, "stale-banner");
    assert!(
        banner.starts_with("Data stale since ") && banner.contains("no update from the daemon"),
        "{banner}"
    );
    assert_eq!(
        text(&dom, "cycle"),
        last.to_string(),
        "the page shows the last cycle's data"
    );
    screenshot(&url, &shots.join("phone-stale.png"));

    // Past their TTL the keys are gone: the banner says so, and every value is "—", not 0.
    wait_for("pulse:status to expire", Duration::from_secs(15), || {
        memcached.get("pulse:status").is_none().then_some(())
    });
    let dom = page_dom(&url);
    let banner = text(&dom, "stale-banner");
    assert!(
        !hidden(&dom, "stale-banner")
            && banner.starts_with("Data stale since ")
            && banner.contains("pulse:status is missing"),
        "{banner}"
    );
    for id in [
        "cycle",
        "regime",
        "trend-strength",
        "volatility",
        "btc-dominance",
        "breadth",
        "breadth-counts",
        "average-change",
        "total-volume",
    ] {
        assert_eq!(text(&dom, id), "—", "#{id} with no data");
    }
    for list in ["signals", "gainers", "losers"] {
        assert!(rows(&dom, list).is_empty(), "#{list} lists rows with no data");
    }
    screenshot(&url, &shots.join("phone-missing.png"));
    eprintln!("screenshots: {}", shots.display());
}
