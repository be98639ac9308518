//! What operators see: the status server's `/metrics`, `/healthz` and `/plugins` scraped while
//! the real daemon runs against a real memcached, JSON logs, and a graceful SIGTERM.

use std::time::{Duration, Instant};

use pulse_testkit::{
    fixture_wasm, http_get, plugin_dir, pulse, repo_root, scrape, status_cycle, text, unix_ms, value, wait_for, Daemon,
    Memcached,
};
use serde_json::Value;

#[test]
fn metrics_health_and_plugins_follow_the_running_daemon() {
    let mut memcached = Memcached::start();
    let port: u16 = memcached.addr.rsplit(':').next().unwrap().parse().unwrap();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    for fault in ["fault_trap", "fault_loop", "fault_panic_init"] {
        std::fs::copy(fixture_wasm(fault), plugins.path().join(format!("{fault}.wasm"))).unwrap();
    }
    let started_ms = unix_ms();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "1", "--ttl", "3", "--log-format", "json"],
    );
    let url = daemon.status_url();
    wait_for("a healthy daemon", Duration::from_secs(30), || {
        (http_get(&format!("{url}/healthz")).0 == 200).then_some(())
    });

    // The cycle counter moves about one per interval.
    let first = scrape(&url);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    let second = scrape(&url);
    let elapsed = t0.elapsed().as_secs_f64();
    let cycles = value(&second, "pulse_cycles_total") - value(&first, "pulse_cycles_total");
    assert!(
        (cycles - elapsed).abs() <= 1.5,
        "{cycles} cycles in {elapsed:.1} s at a 1 s interval"
    );
    let m = &second;
    assert_eq!(
        value(m, "pulse_cycle_duration_seconds_count"),
        value(m, "pulse_cycles_total")
    );
    // Exported; its value depends on the machine's load.
    value(m, "pulse_cycles_skipped_total");
    assert!(value(m, r#"pulse_plugin_calls_total{plugin="trend"}"#) >= value(&first, "pulse_cycles_total"));
    assert_eq!(value(m, r#"pulse_plugin_traps_total{plugin="trend"}"#), 0.0);
    assert_eq!(
        value(m, r#"pulse_plugin_calls_total{plugin="fault-trap"}"#),
        value(m, r#"pulse_plugin_traps_total{plugin="fault-trap"}"#)
            + value(m, r#"pulse_plugin_errors_total{plugin="fault-trap"}"#),
    );
    assert!(value(m, r#"pulse_plugin_traps_total{plugin="fault-trap"}"#) >= 1.0);
    assert!(value(m, r#"pulse_plugin_timeouts_total{plugin="fault-loop"}"#) >= 1.0);
    assert!(
        value(
            m,
            r#"pulse_plugin_call_duration_seconds_count{plugin="dashboard",kind="aggregator"}"#
        ) >= 1.0
    );
    let info = m
        .keys()
        .find(|k| k.starts_with(r#"pulse_plugin_info{plugin="trend",kind="analyzer",version="0.3.0",hash=""#))
        .unwrap_or_else(|| panic!("no pulse_plugin_info for trend: {m:#?}"));
    assert_eq!(m[info], 1.0);
    assert!(
        !m.keys().any(|k| k.contains("fault-panic-init")),
        "a plugin rejected at staging is not loaded"
    );
    assert!(value(m, "pulse_cache_keys_written_total") > value(&first, "pulse_cache_keys_written_total"));
    assert!(value(m, "pulse_cache_written_bytes_total") > 1000.0);
    let server_up = format!(r#"pulse_cache_server_up{{server="{}"}}"#, memcached.addr);
    assert_eq!(value(m, &server_up), 1.0);
    assert_eq!(value(m, r#"pulse_source_failures_total{source="simulated"}"#), 0.0);
    // A scrape during a cycle sees its poll but not yet its end.
    let polls = value(m, r#"pulse_source_polls_total{source="simulated"}"#) - value(m, "pulse_cycles_total");
    assert!(polls == 0.0 || polls == 1.0, "{polls} more polls than cycles");
    assert_eq!(value(m, "pulse_snapshot_age_seconds"), 0.0);
    let last_push = value(m, "pulse_last_push_timestamp_seconds");
    assert!(last_push * 1000.0 >= started_ms as f64 && last_push * 1000.0 <= unix_ms() as f64);

    // The breaker quarantines the looping plugin after 5 timeouts in a row.
    wait_for("fault-loop quarantined in /metrics", Duration::from_secs(20), || {
        (scrape(&url).get(r#"pulse_plugin_quarantined{plugin="fault-loop"}"#) == Some(&1.0)).then_some(())
    });

    // /plugins: every loaded plugin with its version, hash, load time, last call and errors.
    let (status, body) = http_get(&format!("{url}/plugins"));
    assert_eq!(status, 200);
    let listed: Vec<Value> = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["fault-loop", "fault-trap", "trend", "volatility", "dashboard"],
        "{body}"
    );
    for p in &listed {
        assert_eq!(p["hash"].as_str().unwrap().len(), 64, "{p}");
        let loaded = p["loaded_at_ms"].as_i64().unwrap();
        assert!(loaded >= started_ms && loaded <= unix_ms(), "{p}");
        assert!(p["last_call"].as_i64().unwrap() >= loaded, "{p}");
        assert!(p["version"].is_string() && p["kind"].is_string(), "{p}");
    }
    let trap = listed.iter().find(|p| p["name"] == "fault-trap").unwrap();
    assert!(
        trap["traps"].as_u64().unwrap() >= 1 && trap["failures"] == trap["calls"],
        "{trap}"
    );
    let trend = listed.iter().find(|p| p["name"] == "trend").unwrap();
    assert_eq!(trend["failures"], 0, "{trend}");
    assert_eq!(trend["kind"], "analyzer");

    // memcached stops: writes fail, and /healthz turns 503 once the last good write is a TTL old.
    drop(memcached);
    let reason = wait_for("/healthz to turn 503", Duration::from_secs(15), || {
        let (status, body) = http_get(&format!("{url}/healthz"));
        (status == 503).then_some(body)
    });
    assert!(reason.contains("longer than the TTL (3 s)"), "{reason}");
    let down = scrape(&url);
    assert_eq!(value(&down, &server_up), 0.0);
    assert!(
        down.iter()
            .any(|(k, v)| k.starts_with("pulse_cache_write_errors_total{") && *v > 0.0),
        "no write error counted: {down:#?}"
    );

    // It comes back: 200 again, and a reconnect is counted.
    memcached = Memcached::start_on(port);
    wait_for("/healthz back to 200", Duration::from_secs(15), || {
        (http_get(&format!("{url}/healthz")).0 == 200).then_some(())
    });
    let up = scrape(&url);
    assert_eq!(value(&up, &server_up), 1.0);
    assert!(value(&up, "pulse_cache_reconnects_total") >= 1.0);
    assert!(status_cycle(&memcached).is_some());

    // Every log line is one JSON object; plugin output carries the plugin's name.
    let log = daemon.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["level"].is_string() && l["message"].is_string()));
    assert!(
        lines
            .iter()
            .any(|l| l["plugin"] == "fault-panic-init" && l["stream"] == "stderr"),
        "the panicking plugin's own output is logged with its name:\n{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["plugin"] == "fault-trap" && l["message"].as_str().unwrap().contains("analyzer failed")),
        "{log}"
    );
}

#[test]
fn sigterm_finishes_the_cycle_in_flight_and_exits_within_an_interval() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    // 100 ms per call: a signal sent just after a cycle starts lands inside it.
    std::fs::copy(fixture_wasm("fault_slow"), plugins.path().join("fault_slow.wasm")).unwrap();
    let interval = Duration::from_secs(2);
    // Stand in for systemd: a notify socket, and a watchdog of 1 s (pinged every 0.5 s).
    let notify_path = plugins.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut daemon = Daemon::start_with_env(
        &[
            "--plugins",
            plugins.path().to_str().unwrap(),
            "--memcached",
            &memcached.addr,
            "--interval",
            "2",
        ],
        &[
            ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let mut buf = [0u8; 256];
    let mut next_notice = || {
        let n = notify.recv(&mut buf).expect("a notice from pulse on NOTIFY_SOCKET");
        String::from_utf8_lossy(&buf[..n]).trim().to_string()
    };
    assert_eq!(next_notice(), "READY=1");
    assert_eq!(next_notice(), "WATCHDOG=1");
    wait_for("cycle 2 in pulse:status", Duration::from_secs(30), || {
        status_cycle(&memcached).filter(|c| *c >= 2)
    });
    // A cycle counts its poll when it has its snapshot and its end after the write; between
    // the two (about 100 ms here) the cycle is in flight.
    let url = daemon.status_url();
    let in_flight = wait_for("a cycle in flight", Duration::from_secs(10), || {
        let m = scrape(&url);
        let started = value(&m, r#"pulse_source_polls_total{source="simulated"}"#);
        let finished = value(&m, "pulse_cycles_total");
        (started == finished + 1.0).then_some(started as u64)
    });
    let signalled = Instant::now();
    assert!(daemon.stop(), "pulse did not exit 0 on SIGTERM:\n{}", daemon.log());
    let took = signalled.elapsed();
    assert!(took < interval, "exit took {took:?}, longer than the interval");
    let log = daemon.log();
    assert!(
        log.contains(&format!("shutting down after cycle {in_flight}")),
        "the cycle in flight was not finished:\n{log}"
    );
    assert_eq!(
        status_cycle(&memcached),
        Some(in_flight),
        "the last cycle's keys were not written"
    );
    assert!(memcached.get("market:overview").is_some());
    let notices: Vec<String> = std::iter::from_fn(|| {
        notify.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let n = notify.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())
    })
    .collect();
    assert_eq!(notices.last().map(String::as_str), Some("STOPPING=1"), "{notices:?}");
    assert!(
        notices[..notices.len() - 1].iter().all(|n| n == "WATCHDOG=1"),
        "{notices:?}"
    );
}

/// With `--listen` on port 0 the daemon picks a free port, and says which in its log: the way
/// an operator finds it.
#[test]
fn a_status_server_on_port_zero_logs_the_port_it_took() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend"]);
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--listen", "127.0.0.1:0"],
    );
    let addr = wait_for(
        "the status server's address in the log",
        Duration::from_secs(30),
        || {
            let log = daemon.log();
            let start = log.find("status server on http://")? + "status server on http://".len();
            let len = log[start..].find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))?;
            Some(log[start..start + len].trim_end_matches(':').to_string())
        },
    );
    assert!(!addr.ends_with(":0"), "{addr}");
    let (status, _) = http_get(&format!("http://{addr}/healthz"));
    assert!(status == 200 || status == 503, "{status}");
}

#[test]
fn version_names_the_commit_the_contracts_and_wasmtime() {
    let out = pulse(&["--version"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let root = repo_root();
    // The commit of this checkout, as git names it.
    let head = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .expect("git runs");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(
        printed.starts_with(&format!("pulse 0.1.0 (commit {head})\n")),
        "{printed:?} names another commit than {head}"
    );
    // Every contract in wit/: the current one and each kept version's folder.
    let current = std::fs::read_to_string(root.join("wit/pulse.wit")).unwrap();
    let current = current
        .split("package pulse:plugin@")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let mut contracts = vec![current.to_string()];
    for kept in std::fs::read_dir(root.join("wit")).unwrap().flatten() {
        if kept.path().is_dir() {
            contracts.push(kept.file_name().to_string_lossy().to_string());
        }
    }
    contracts.sort_by(|a, b| b.cmp(a));
    assert!(
        printed.contains(&format!("\ncontracts: {}\n", contracts.join(", "))),
        "{printed:?} does not list {contracts:?}"
    );
    // The wasmtime the lockfile pins.
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let wasmtime = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"wasmtime\"\n"))
        .and_then(|p| p.split("version = \"").nth(1))
        .and_then(|v| v.split('"').next())
        .expect("Cargo.lock pins wasmtime");
    assert!(printed.ends_with(&format!("\nwasmtime {wasmtime}\n")), "{printed:?}");
}
