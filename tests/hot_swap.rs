//! Hot swap with a running daemon and a real memcached: replace, roll back, add, remove and
//! reject plugins while cycles keep coming, and check that nothing leaks over many swaps.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{plugin_dir, plugin_wasm, wait_for, Daemon, Memcached};
use serde_json::Value;

/// The version of `trend` that served the latest `analysis:signals`, if a single one did.
fn trend_version_in_signals(memcached: &Memcached) -> Option<&'static str> {
    let signals = memcached.json("analysis:signals");
    let versions: BTreeSet<&str> = signals["signals"]
        .as_array()?
        .iter()
        .map(|s| {
            let trend = &s["components"]["trend"];
            if trend.get("v2_marker").is_some() {
                "2.0.0"
            } else if trend.get("momentum").is_some() {
                "0.1.0"
            } else {
                "none"
            }
        })
        .collect();
    assert!(versions.len() <= 1, "one cycle mixed versions of trend: {versions:?}");
    versions.into_iter().next().map(|v| match v {
        "2.0.0" => "2.0.0",
        "0.1.0" => "0.1.0",
        _ => "none",
    })
}

fn status_plugins(memcached: &Memcached) -> Vec<(String, String)> {
    memcached.json("pulse:status")["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Replaces `to` by writing `bytes` to a hidden temporary file and renaming it into place.
fn rename_into_place(dir: &Path, to: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{to}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(to)).unwrap();
}

fn wait_for_log(daemon: &Daemon, what: &str, needle: &str) -> String {
    wait_for(what, Duration::from_secs(15), || {
        daemon.log().lines().find(|l| l.contains(needle)).map(str::to_string)
    })
}

#[test]
fn plugins_swap_roll_back_come_and_go_without_a_missed_cycle() {
    let memcached = Arc::new(Memcached::start());
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path();
    let daemon = Daemon::serve(
        dir.to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.3", "--ttl", "5"],
    );
    wait_for("the first cycles", Duration::from_secs(30), || {
        common::status_cycle(&memcached).filter(|&c| c >= 3)
    });

    // Record every cycle number the status shows while we swap.
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (memcached, seen, stop) = (memcached.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(cycle) = common::status_cycle(&memcached) {
                    seen.lock().unwrap().insert(cycle);
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        })
    };
    assert_eq!(trend_version_in_signals(&memcached), Some("0.1.0"));
    let original = std::fs::read(plugin_wasm("trend")).unwrap();

    // 1. `cp` in place of the running version.
    std::fs::copy(plugin_wasm("trend_v2"), dir.join("trend.wasm")).unwrap();
    wait_for("trend 2.0.0 to serve", Duration::from_secs(15), || {
        (trend_version_in_signals(&memcached) == Some("2.0.0")).then_some(())
    });
    let swapped = wait_for_log(&daemon, "the swap log line", "swapped plugin trend 0.1.0 -> 2.0.0");
    assert!(
        swapped.contains("hash=") && swapped.contains("staging_ms="),
        "{swapped}"
    );
    let breakdown = memcached.json("analysis:breakdown:BTCUSDT");
    assert_eq!(breakdown["analyzers"]["trend"]["version"], "2.0.0");
    assert_eq!(breakdown["analyzers"]["trend"]["score"], 99.0);
    assert!(status_plugins(&memcached).contains(&("trend".into(), "2.0.0".into())));

    // 2. Back to the old version by rename; it was compiled before, so it comes from the cache.
    rename_into_place(dir, "trend.wasm", &original);
    wait_for("trend 0.1.0 to serve again", Duration::from_secs(15), || {
        (trend_version_in_signals(&memcached) == Some("0.1.0")).then_some(())
    });
    let back = wait_for_log(&daemon, "the swap-back log line", "swapped plugin trend 2.0.0 -> 0.1.0");
    assert!(back.contains("from compile cache"), "{back}");

    // 3. Remove a plugin, then add it back.
    std::fs::remove_file(dir.join("volatility.wasm")).unwrap();
    wait_for("volatility to be gone", Duration::from_secs(15), || {
        let signals = memcached.json("analysis:signals");
        (signals["signals"][0]["components"].get("volatility").is_none()
            && !status_plugins(&memcached).iter().any(|p| p.0 == "volatility"))
        .then_some(())
    });
    wait_for_log(&daemon, "the unload log line", "unloaded plugin volatility 0.1.0");
    std::fs::copy(plugin_wasm("volatility"), dir.join("volatility.wasm")).unwrap();
    wait_for("volatility to be back", Duration::from_secs(15), || {
        let signals = memcached.json("analysis:signals");
        signals["signals"][0]["components"].get("volatility").map(drop)
    });

    // 4. Bad versions are rejected at their stage and the old version keeps serving.
    let half = &original[..original.len() / 2];
    rename_into_place(dir, "trend.wasm", half);
    let line = wait_for_log(&daemon, "the truncated-file rejection", "at compile");
    assert!(
        line.contains("trend.wasm") && line.contains("still serving trend 0.1.0"),
        "{line}"
    );
    rename_into_place(dir, "trend.wasm", b"#!/bin/sh\necho not wasm\n");
    let line = wait_for_log(&daemon, "the non-wasm rejection", "not a WebAssembly file");
    assert!(line.contains("still serving trend 0.1.0"), "{line}");
    std::fs::copy(plugin_wasm("wrong_world"), dir.join("trend.wasm")).unwrap();
    let line = wait_for_log(&daemon, "the wrong-world rejection", "at world");
    assert!(
        line.contains("exports neither") && line.contains("still serving trend 0.1.0"),
        "{line}"
    );
    let cycle_after_rejections = common::status_cycle(&memcached).unwrap();
    wait_for("two more cycles", Duration::from_secs(10), || {
        common::status_cycle(&memcached).filter(|&c| c >= cycle_after_rejections + 2)
    });
    assert_eq!(trend_version_in_signals(&memcached), Some("0.1.0"));
    assert!(status_plugins(&memcached).contains(&("trend".into(), "0.1.0".into())));

    // 5. A side config re-inits the plugin: a bad one is rejected, a good one swaps in.
    rename_into_place(dir, "trend.wasm", &original);
    std::fs::write(dir.join("trend.toml"), "fast = 20\nslow = 10\n").unwrap();
    let line = wait_for_log(&daemon, "the bad-config rejection", "must be at least 1 and below slow");
    assert!(
        line.contains("at trial") && line.contains("still serving trend 0.1.0"),
        "{line}"
    );
    std::fs::write(dir.join("trend.toml"), "fast = 3\nslow = 9\n").unwrap();
    wait_for_log(&daemon, "the re-init swap", "swapped plugin trend 0.1.0 -> 0.1.0");

    // 6. A plugin that sleeps for a minute in its trial call (a blocking host call, which the
    //    epoch deadline cannot cut) is rejected at its deadline, and later swaps still happen.
    std::fs::copy(common::fault_wasm("fault_sleep"), dir.join("fault_sleep.wasm")).unwrap();
    let line = wait_for_log(&daemon, "the sleeping plugin's rejection", "fault_sleep.wasm at trial");
    assert!(line.contains("inside a blocking host call"), "{line}");
    std::fs::remove_file(dir.join("trend.toml")).unwrap();
    wait_for("a swap after the sleeping plugin", Duration::from_secs(10), || {
        (daemon.log().matches("swapped plugin trend 0.1.0 -> 0.1.0").count() == 2).then_some(())
    });

    let last = common::status_cycle(&memcached).unwrap();
    wait_for("one more cycle", Duration::from_secs(10), || {
        common::status_cycle(&memcached).filter(|&c| c > last)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let seen: Vec<u64> = seen.lock().unwrap().iter().copied().collect();
    let (first, last) = (seen[0], *seen.last().unwrap());
    let missing: Vec<u64> = (first..=last).filter(|c| !seen.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "cycles not seen in pulse:status: {missing:?} of {first}..={last}"
    );
    let status: Value = memcached.json("pulse:status");
    assert_eq!(status["skipped_ticks"], 0, "a cycle overran during the swaps");
    let log = daemon.log();
    assert!(!log.contains("overran"), "{log}");
    assert!(
        !log.contains("analyzer failed") && !log.contains("aggregator failed"),
        "{log}"
    );
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn two_hundred_swaps_leave_resident_memory_flat() {
    let plugins = plugin_dir(&["trend"]);
    let cache = tempfile::tempdir().unwrap();
    let config = pulse::config::Config {
        plugin_dir: plugins.path().to_path_buf(),
        compile_cache: Some(cache.path().to_path_buf()),
        ..Default::default()
    };
    let (mut reloader, mut feed) = pulse::startup::load_plugins(&config).unwrap();
    let versions = [
        (std::fs::read(plugin_wasm("trend")).unwrap(), "0.1.0"),
        (std::fs::read(plugin_wasm("trend_v2")).unwrap(), "2.0.0"),
    ];
    let mut baseline = 0;
    for swap in 0..220 {
        let (bytes, version) = &versions[swap % 2];
        rename_into_place(plugins.path(), "trend.wasm", bytes);
        reloader.reconcile().unwrap();
        // The pipeline's view: it holds the current generation while a cycle runs.
        let generation = feed.generation();
        assert_eq!(generation.analyzers[0].info.version, *version, "swap {swap}");
        if swap == 19 {
            baseline = resident_bytes();
        }
    }
    let grown = resident_bytes() as i64 - baseline as i64;
    println!(
        "resident memory: {:.1} MiB after 20 swaps, {:+.2} MiB over the next 200",
        baseline as f64 / 1048576.0,
        grown as f64 / 1048576.0
    );
    assert!(grown < 16 << 20, "resident memory grew by {grown} bytes over 200 swaps");
}
