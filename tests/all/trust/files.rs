//! Files that are not what they seem, where the daemon reads: FIFOs, devices, sparse giants.
//! None of them stops start-up or the reloader, none costs more memory than its bound, and the
//! good plugins load and serve beside each refusal.

use std::path::Path;
use std::time::Duration;

use pulse_testkit::{http_server, plugin_dir, status_cycle, wait_for, Daemon, Memcached};

/// Makes a FIFO at `path`; nothing ever writes it, so an open that blocks on it never returns.
pub fn fifo(path: &Path) {
    rustix::fs::mkfifoat(rustix::fs::CWD, path, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
}

/// Waits until the daemon's log has `count` lines holding `text`.
pub fn logged(daemon: &Daemon, text: &str, count: usize) {
    wait_for(&format!("{count} lines of {text:?}"), Duration::from_secs(60), || {
        (daemon.log().matches(text).count() >= count).then_some(())
    });
}

#[test]
fn fifos_devices_and_sparse_giants_neither_stop_start_up_nor_the_reloader() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path();
    fifo(&dir.join("volatility.toml"));
    std::fs::File::create(dir.join("giant.wasm"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.wasm")).unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(state.path().join("rolled-back")).unwrap();
    fifo(&state.path().join("rolled-back/index.json"));

    let daemon = Daemon::serve(
        dir.to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5", "--state-dir", state.path().to_str().unwrap()],
    );
    wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    let log = daemon.log();
    for refusal in [
        "cannot read its config",
        "volatility.toml\": it is a FIFO, not a regular file",
        "giant.wasm",
        "larger than the limit of 134217728 bytes",
        "zero.wasm",
        "it is a device, not a regular file",
        "ignoring the rollbacks saved in",
        "index.json\": it is a FIFO, not a regular file",
    ] {
        assert!(log.contains(refusal), "{refusal:?} is said:\n{log}");
    }
    let status = memcached.json("pulse:status");
    let mut serving: Vec<&str> = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    serving.sort();
    assert_eq!(serving, ["dashboard", "trend"], "the good plugins serve");

    // While serving: trend's side config becomes a FIFO, then /dev/zero, then a good one. The
    // first two are refused (trend keeps serving); the reloader is never stuck, so the last
    // takes effect.
    let side = dir.join("trend.toml");
    fifo(&side);
    logged(&daemon, "trend.toml\": it is a FIFO", 1);
    std::fs::remove_file(&side).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &side).unwrap();
    logged(&daemon, "trend.toml\": it is a device", 1);
    std::fs::remove_file(&side).unwrap();
    std::fs::write(dir.join(".trend.toml.tmp"), "fast = 4\nslow = 12\n").unwrap();
    std::fs::rename(dir.join(".trend.toml.tmp"), &side).unwrap();
    logged(&daemon, "swapped plugin trend 0.3.0 -> 0.3.0", 1);

    super::holds(&daemon, &memcached, Duration::from_millis(500));
}

/// A loopback Bybit answering its 24 h tickers with `n` good rows, and nothing else.
pub fn loopback_bybit(n: usize) -> String {
    http_server(move |path| {
        if !path.starts_with("/v5/market/tickers") {
            return (404, "{}".into());
        }
        let list: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                let price = 100.0 + i as f64;
                serde_json::json!({
                    "symbol": format!("C{i:02}USDT"), "lastPrice": price.to_string(),
                    "price24hPcnt": "0.01", "highPrice24h": (price * 1.05).to_string(),
                    "lowPrice24h": (price * 0.95).to_string(),
                    "turnover24h": format!("{}", 1e9 / (i as f64 + 1.0)), "volume24h": "12345.6"
                })
            })
            .collect();
        let body = serde_json::json!({"retCode": 0, "retMsg": "OK",
            "result": {"category": "linear", "list": list}, "time": 1_700_000_000_000_i64});
        (200, body.to_string())
    })
}

#[test]
fn a_fifo_or_a_sparse_giant_at_the_warm_state_is_a_cold_start() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let url = loopback_bybit(12);
    let state = tempfile::tempdir().unwrap();
    let saved = state.path().join("bybit.json");
    let serve = || {
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
                &url,
                "--state-dir",
                state.path().to_str().unwrap(),
            ],
        );
        logged(&daemon, "Pushed 12 symbols", 1);
        daemon
    };
    fifo(&saved);
    let mut daemon = serve();
    logged(&daemon, "cold start: the saved state is not used", 1);
    assert!(
        daemon.log().contains("bybit.json\": it is a FIFO, not a regular file"),
        "{}",
        daemon.log()
    );
    assert!(daemon.stop());
    assert!(
        std::fs::symlink_metadata(&saved).unwrap().is_file(),
        "the stop saved a state over the FIFO"
    );

    std::fs::File::create(&saved).unwrap().set_len(2 << 30).unwrap();
    let mut daemon = serve();
    logged(&daemon, "cold start: the saved state is not used", 1);
    assert!(daemon.log().contains("larger than the limit"), "{}", daemon.log());
    super::holds(&daemon, &memcached, Duration::from_millis(500));
    // Symlinks planted at every temporary name the save could pick (the daemon's pid is no
    // secret): the save replaces the state, and the file they point to stays as it was.
    let victim = state.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    for n in 0..500 {
        let planted = state.path().join(format!("bybit.json.tmp{}_{n}", daemon.pid()));
        std::os::unix::fs::symlink(&victim, planted).unwrap();
    }
    assert!(daemon.stop());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&saved).unwrap().is_file() && std::fs::metadata(&saved).unwrap().len() < 1 << 20);
    let restarted = serve();
    logged(&restarted, "warm start: took back", 1);
}

#[test]
fn a_giant_line_in_a_recording_neither_stalls_the_cycles_nor_fills_memory() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("market.jsonl");
    // A good line, a line of 1 GiB of zeros (a hole in a sparse file: nothing on disk), and a
    // good line again.
    let line = |ts: i64| {
        let tickers: Vec<serde_json::Value> = (0..12)
            .map(|i| {
                let price = 100.0 + f64::from(i);
                serde_json::json!({"symbol": format!("C{i:02}USDT"), "price": price, "change_24h": 1.0,
                    "volume_24h": 1e6, "turnover_24h": 1e8 / f64::from(i + 1),
                    "high_24h": price * 1.05, "low_24h": price * 0.95})
            })
            .collect();
        format!("{}\n", serde_json::json!({"timestamp_ms": ts, "tickers": tickers}))
    };
    {
        use std::io::{Seek, Write};
        let mut file = std::fs::File::create(&recording).unwrap();
        file.write_all(line(1_700_000_000_000).as_bytes()).unwrap();
        file.seek(std::io::SeekFrom::Current(1 << 30)).unwrap();
        file.write_all(format!("\n{}", line(1_700_000_002_000)).as_bytes())
            .unwrap();
    }
    let source = format!("replay:{}", recording.display());
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5", "--source", &source],
    );
    let first = wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    logged(&daemon, "line 2: skipped, 1073741824 bytes long", 1);
    // While the reader's thread was still on it, cycles went on without the next line.
    assert!(daemon.log().contains("is not read yet after 250ms"), "{}", daemon.log());
    // Meanwhile the cycles kept their cadence, serving the last good snapshot.
    let started = std::time::Instant::now();
    let at = status_cycle(&memcached).unwrap();
    wait_for("four more cycles", Duration::from_secs(10), || {
        status_cycle(&memcached).filter(|c| *c >= at + 4)
    });
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(at > first, "cycles went on while the line was read");
    super::holds(&daemon, &memcached, Duration::from_millis(500));
}

#[test]
fn a_file_name_with_a_newline_cannot_forge_a_log_line() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let forged = "FORGED pulse::pipeline: Pushed 30 symbols to unified cache";
    let name = format!("evil\n{forged}\r.wasm");
    std::fs::write(plugins.path().join(&name), b"not wasm").unwrap();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5"],
    );
    wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    logged(&daemon, "rejected plugin", 1);
    let log = daemon.log();
    assert!(!log.lines().any(|line| line.starts_with("FORGED")), "{log}");
    assert!(log.contains("evil\\nFORGED"), "the name is shown escaped:\n{log}");
    super::holds(&daemon, &memcached, Duration::from_millis(500));
}

#[test]
fn a_giant_config_stops_start_up_at_once_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    // 100 MB of comments: valid TOML, far past the 1 MiB a config may take; refused by its size
    // before a byte is read.
    let line = format!("# {}\n", "x".repeat(98));
    std::fs::write(&config, line.repeat(1_000_000)).unwrap();
    let started = std::time::Instant::now();
    let out = pulse_testkit::pulse(&["run", "--config", config.to_str().unwrap(), "--cycles", "1"]);
    let said = pulse_testkit::text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("cannot read config file") && said.contains("larger than the limit of 1048576 bytes"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused at once: {:?}",
        started.elapsed()
    );
}
