//! The cache writer against real memcached servers: exact TTLs, per-key failures, a server
//! restart, a dead server among two, mirroring, and a Python reader finding every key.

use std::time::{Duration, Instant};

use pulse::cache::{CacheWriter, Fence, Placement};
use pulse::shared::entry::ValidEntry;
use pulse_testkit::{dashboard_keys, free_port, plugin_dir, wait_for, Daemon, Memcached};

const BUNDLED: [&str; 3] = ["trend", "volatility", "dashboard"];

fn entry(key: &str, value: &[u8], ttl: u32) -> ValidEntry {
    ValidEntry {
        key: key.into(),
        value: value.to_vec(),
        ttl,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_key_lives_exactly_its_ttl() {
    let memcached = Memcached::start();
    runtime().block_on(async {
        let placement = Placement::new(vec![memcached.addr.clone()], false);
        let mut writer = CacheWriter::connect(placement, Duration::from_secs(1)).await.unwrap();
        let report = writer
            .write(
                &[entry("ttl:two", b"2", 2), entry("ttl:five", b"5", 5)],
                Fence {
                    term: 3,
                    ..Fence::open()
                },
            )
            .await;
        assert_eq!((report.written, report.failed), (2, 0), "{report:?}");
    });
    assert_eq!(
        memcached.flags("ttl:five"),
        Some(3),
        "the writer's flags are stored with the item"
    );
    let written = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        memcached.get("ttl:two").as_deref(),
        Some(&b"2"[..]),
        "gone before its TTL"
    );
    wait_for(
        "ttl:two to expire",
        Duration::from_secs(3) - written.elapsed() + Duration::from_millis(200),
        || memcached.get("ttl:two").is_none().then_some(()),
    );
    assert!(
        memcached.get("ttl:five").is_some(),
        "the 5 s key expired with the 2 s one"
    );
}

#[test]
fn a_key_the_server_refuses_fails_alone() {
    // A server whose largest item is 1 KiB refuses a 2 KiB value; the other entries land.
    let port = free_port();
    let memcached = Memcached::start_with(port, &["-I", "1k", "-o", "slab_chunk_max=1024"]);
    let report = runtime().block_on(async {
        let placement = Placement::new(vec![memcached.addr.clone()], false);
        let mut writer = CacheWriter::connect(placement, Duration::from_secs(1)).await.unwrap();
        let report = writer
            .write(
                &[
                    entry("small:a", b"a", 10),
                    entry("big:b", &[b'x'; 2048], 10),
                    entry("small:c", b"c", 10),
                ],
                Fence {
                    term: 7,
                    ..Fence::open()
                },
            )
            .await;
        assert_eq!(writer.stats().errors.get("server_error"), Some(&1));
        assert!(
            writer.stats().servers[0].up,
            "a refused key must not mark the server down"
        );
        report
    });
    assert_eq!((report.written, report.failed), (2, 1), "{report:?}");
    assert!(report.first_error.unwrap().starts_with("big:b"));
    assert!(memcached.get("small:a").is_some() && memcached.get("small:c").is_some());
    // Sent again key by key after the refusal, the entries keep the writer's flags.
    assert_eq!(
        (memcached.flags("small:a"), memcached.flags("small:c")),
        (Some(7), Some(7))
    );
}

#[test]
fn the_daemon_rides_out_a_memcached_restart() {
    let port = free_port();
    let memcached = Memcached::start_on(port);
    let plugins = plugin_dir(&BUNDLED);
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5", "--ttl", "5"],
    );
    wait_for("cycle 2", Duration::from_secs(30), || {
        pulse_testkit::status_cycle(&memcached).filter(|&c| c >= 2)
    });
    let keys = dashboard_keys(&memcached);

    drop(memcached);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        daemon.is_running(),
        "pulse exited while memcached was down:\n{}",
        daemon.log()
    );

    let memcached = Memcached::start_on(port);
    let restarted = Instant::now();
    let restarted_ms = pulse_testkit::unix_ms();
    wait_for("every key back after the restart", Duration::from_secs(10), || {
        keys.iter().all(|k| memcached.get(k).is_some()).then_some(())
    });
    let back_after = restarted.elapsed();
    let status = memcached.json("pulse:status");
    assert!(
        status["timestamp_ms"].as_i64().unwrap() >= restarted_ms - 50,
        "the status is older than the restart"
    );
    // One interval (0.5 s) plus the longest probe wait (0.25 s), with one more interval of
    // slack for a loaded machine.
    assert!(
        back_after < Duration::from_millis(1250),
        "keys came back only after {back_after:?}"
    );
    assert_eq!(status["skipped_ticks"], 0, "a cycle overran during the outage");
    assert!(status["cache"]["reconnects"].as_u64().unwrap() >= 1, "{status}");
    assert!(
        status["cache"]["errors"]["server_down"].as_u64().unwrap() > 0,
        "{status}"
    );

    let log = daemon.log();
    let addr = &memcached.addr;
    assert_eq!(log.matches(&format!("memcached {addr} down:")).count(), 1, "{log}");
    assert_eq!(log.matches(&format!("memcached {addr} back after")).count(), 1, "{log}");
    assert!(!log.contains("overran"), "{log}");
    assert!(daemon.stop());
}

#[test]
fn with_one_of_two_servers_dead_the_live_ones_keys_stay_fresh() {
    let live = Memcached::start();
    let dead = format!("127.0.0.1:{}", free_port());
    let servers = vec![live.addr.clone(), dead.clone()];
    let plugins = plugin_dir(&BUNDLED);
    let _daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &servers.join(","),
        &["--interval", "0.3"],
    );
    let placement = Placement::new(servers, false);
    let all: Vec<String> = [
        "market:overview",
        "market:tickers",
        "market:movers",
        "market:breadth",
        "analysis:signals",
    ]
    .into_iter()
    .map(String::from)
    .chain(
        [
            "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "BNBUSDT", "ADAUSDT", "LINKUSDT",
        ]
        .map(|s| format!("analysis:breakdown:{s}")),
    )
    .collect();
    let (mine, theirs): (Vec<&String>, Vec<&String>) = all.iter().partition(|k| placement.owner(k) == 0);
    assert!(
        !mine.is_empty() && !theirs.is_empty(),
        "the sample should hit both servers"
    );
    let cycle_of = |key: &str| memcached_cycle(&live, key);
    let breakdown = mine.iter().find(|k| k.starts_with("analysis:breakdown:")).copied();
    wait_for("the live server's keys", Duration::from_secs(30), || {
        mine.iter().all(|k| live.get(k).is_some()).then_some(())
    });
    if let Some(key) = breakdown {
        let first = cycle_of(key).unwrap();
        wait_for("a fresher cycle on the live server", Duration::from_secs(10), || {
            cycle_of(key).filter(|&c| c > first + 1)
        });
    }
    for key in &theirs {
        assert!(
            live.get(key).is_none(),
            "{key} belongs to the dead server but was written to the live one"
        );
    }
}

fn memcached_cycle(memcached: &Memcached, key: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(&memcached.get(key)?).ok()?;
    value["cycle"].as_u64()
}

#[test]
fn mirror_mode_puts_every_key_on_every_server() {
    let (a, b) = (Memcached::start(), Memcached::start());
    let plugins = plugin_dir(&BUNDLED);
    let _daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &format!("{},{}", a.addr, b.addr),
        &["--mirror", "--interval", "0.3"],
    );
    wait_for("cycle 2 on the first server", Duration::from_secs(30), || {
        pulse_testkit::status_cycle(&a).filter(|&c| c >= 2)
    });
    for key in dashboard_keys(&a) {
        assert!(b.get(&key).is_some(), "{key} is missing on the second server");
    }
}

#[test]
fn python_hash_client_finds_every_key_with_the_same_server_list() {
    let servers = [Memcached::start(), Memcached::start(), Memcached::start()];
    let list: Vec<String> = servers.iter().map(|m| m.addr.clone()).collect();
    let plugins = plugin_dir(&BUNDLED);
    let _daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &list.join(","),
        &["--interval", "0.3"],
    );
    let placement = Placement::new(list.clone(), false);
    let status_home = &servers[placement.owner("pulse:status")];
    wait_for("cycle 2", Duration::from_secs(30), || {
        pulse_testkit::status_cycle(status_home).filter(|&c| c >= 2)
    });
    let tickers_home = &servers[placement.owner("market:tickers")];
    let keys = dashboard_keys(tickers_home);
    let holders: std::collections::BTreeSet<usize> = keys.iter().map(|k| placement.owner(k)).collect();
    assert_eq!(holders.len(), 3, "keys should be spread over all three servers");

    let script = r#"
import json, sys
from pymemcache.client.hash import HashClient
servers = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in sys.argv[1].split(","))]
client = HashClient(servers)
keys = json.loads(sys.stdin.read())
found = client.get_many(keys)
missing = [k for k in keys if k not in found]
print(json.dumps({"found": len(found), "missing": missing}))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, &list.join(",")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&keys).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python reader failed (install pymemcache with scripts/setup-tests or `pip install pymemcache==4.0.0`):\n{stderr}"
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["missing"], serde_json::json!([]), "{result}");
    assert_eq!(result["found"].as_u64().unwrap() as usize, keys.len());
}
