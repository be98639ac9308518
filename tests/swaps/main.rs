//! Hot swap with a running daemon and a real memcached: replace, roll back, add, remove and
//! reject plugins while cycles keep coming (each in a test of its own, none missing a cycle),
//! and check that nothing leaks over many swaps.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pulse_testkit::{plugin_dir, plugin_wasm, wait_for, Daemon, Memcached};
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
            } else if trend.get("ema_slow").is_some() {
                "0.3.0"
            } else {
                "none"
            }
        })
        .collect();
    assert!(versions.len() <= 1, "one cycle mixed versions of trend: {versions:?}");
    versions.into_iter().next().map(|v| match v {
        "2.0.0" => "2.0.0",
        "0.3.0" => "0.3.0",
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

/// The swap tests run one at a time: each watches its daemon for a missed cycle or an overrun
/// at a 0.3 s interval, which other daemons on the two cores would make a test of the machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A daemon serving the bundled plugins from a directory of the test's own, with every cycle
/// number its `pulse:status` shows recorded while the test changes the directory.
struct Swapping {
    memcached: Arc<Memcached>,
    plugins: tempfile::TempDir,
    daemon: Daemon,
    seen: Arc<Mutex<BTreeSet<u64>>>,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

/// A test that fails before `finish` still stops its sampler, which holds the memcached.
impl Drop for Swapping {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Swapping {
    fn start() -> Self {
        let one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let memcached = Arc::new(Memcached::start());
        let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
        let daemon = Daemon::serve(
            plugins.path().to_str().unwrap(),
            &memcached.addr,
            &["--interval", "0.3", "--ttl", "5"],
        );
        wait_for("the first cycles", Duration::from_secs(30), || {
            pulse_testkit::status_cycle(&memcached).filter(|&c| c >= 3)
        });
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (memcached, seen, stop) = (memcached.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(cycle) = pulse_testkit::status_cycle(&memcached) {
                        seen.lock().unwrap().insert(cycle);
                    }
                    std::thread::sleep(Duration::from_millis(30));
                }
            })
        };
        assert_eq!(trend_version_in_signals(&memcached), Some("0.3.0"));
        Self {
            memcached,
            plugins,
            daemon,
            seen,
            stop,
            sampler: Some(sampler),
            _one_at_a_time: one_at_a_time,
        }
    }

    fn dir(&self) -> &Path {
        self.plugins.path()
    }

    /// One more cycle, then: no cycle number was missed in `pulse:status`, none overran, and
    /// no plugin call failed while the directory changed.
    fn finish(mut self) {
        let last = pulse_testkit::status_cycle(&self.memcached).unwrap();
        wait_for("one more cycle", Duration::from_secs(10), || {
            pulse_testkit::status_cycle(&self.memcached).filter(|&c| c > last)
        });
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            sampler.join().unwrap();
        }
        let seen: Vec<u64> = self.seen.lock().unwrap().iter().copied().collect();
        let (first, last) = (seen[0], *seen.last().unwrap());
        let missing: Vec<u64> = (first..=last).filter(|c| !seen.contains(c)).collect();
        assert!(
            missing.is_empty(),
            "cycles not seen in pulse:status: {missing:?} of {first}..={last}"
        );
        let status: Value = self.memcached.json("pulse:status");
        assert_eq!(status["skipped_ticks"], 0, "a cycle overran during the swaps");
        let log = self.daemon.log();
        assert!(!log.contains("overran"), "{log}");
        assert!(
            !log.contains("analyzer failed") && !log.contains("aggregator failed"),
            "{log}"
        );
    }
}

/// Copies trend 2.0.0 over the running trend.wasm and waits until it serves.
fn swap_to_v2(t: &Swapping) {
    std::fs::copy(plugin_wasm("trend_v2"), t.dir().join("trend.wasm")).unwrap();
    wait_for("trend 2.0.0 to serve", Duration::from_secs(15), || {
        (trend_version_in_signals(&t.memcached) == Some("2.0.0")).then_some(())
    });
}

#[test]
fn a_version_copied_in_place_serves_whole_cycles() {
    let t = Swapping::start();
    swap_to_v2(&t);
    let swapped = wait_for_log(&t.daemon, "the swap log line", "swapped plugin trend 0.3.0 -> 2.0.0");
    assert!(
        swapped.contains("hash=") && swapped.contains("staging_ms="),
        "{swapped}"
    );
    // The keys of one cycle are written in one batch, not atomically: the breakdown may trail
    // `analysis:signals` until the rest of the batch is stored.
    let breakdown = wait_for("trend 2.0.0 in the breakdown", Duration::from_secs(5), || {
        let breakdown = t.memcached.json("analysis:breakdown:BTCUSDT");
        (breakdown["analyzers"]["trend"]["version"] == "2.0.0").then_some(breakdown)
    });
    assert_eq!(breakdown["analyzers"]["trend"]["version"], "2.0.0");
    assert_eq!(breakdown["analyzers"]["trend"]["score"], 99.0);
    assert!(status_plugins(&t.memcached).contains(&("trend".into(), "2.0.0".into())));
    t.finish();
}

#[test]
fn the_old_version_renamed_back_comes_from_the_compile_cache() {
    let t = Swapping::start();
    swap_to_v2(&t);
    rename_into_place(t.dir(), "trend.wasm", &std::fs::read(plugin_wasm("trend")).unwrap());
    wait_for("trend 0.3.0 to serve again", Duration::from_secs(15), || {
        (trend_version_in_signals(&t.memcached) == Some("0.3.0")).then_some(())
    });
    let back = wait_for_log(
        &t.daemon,
        "the swap-back log line",
        "swapped plugin trend 2.0.0 -> 0.3.0",
    );
    assert!(back.contains("from compile cache"), "{back}");
    t.finish();
}

#[test]
fn a_removed_plugin_unloads_and_comes_back_when_added() {
    let t = Swapping::start();
    std::fs::remove_file(t.dir().join("volatility.wasm")).unwrap();
    wait_for("volatility to be gone", Duration::from_secs(15), || {
        let signals = t.memcached.json("analysis:signals");
        (signals["signals"][0]["components"].get("volatility").is_none()
            && !status_plugins(&t.memcached).iter().any(|p| p.0 == "volatility"))
        .then_some(())
    });
    wait_for_log(&t.daemon, "the unload log line", "unloaded plugin volatility 0.2.0");
    std::fs::copy(plugin_wasm("volatility"), t.dir().join("volatility.wasm")).unwrap();
    wait_for("volatility to be back", Duration::from_secs(15), || {
        let signals = t.memcached.json("analysis:signals");
        signals["signals"][0]["components"].get("volatility").map(drop)
    });
    t.finish();
}

#[test]
fn bad_versions_are_rejected_at_their_stage_and_the_old_one_keeps_serving() {
    let t = Swapping::start();
    let original = std::fs::read(plugin_wasm("trend")).unwrap();
    rename_into_place(t.dir(), "trend.wasm", &original[..original.len() / 2]);
    let line = wait_for_log(&t.daemon, "the truncated-file rejection", "at compile");
    assert!(
        line.contains("trend.wasm") && line.contains("still serving trend 0.3.0"),
        "{line}"
    );
    rename_into_place(t.dir(), "trend.wasm", b"#!/bin/sh\necho not wasm\n");
    let line = wait_for_log(&t.daemon, "the non-wasm rejection", "not a WebAssembly file");
    assert!(line.contains("still serving trend 0.3.0"), "{line}");
    std::fs::copy(plugin_wasm("wrong_world"), t.dir().join("trend.wasm")).unwrap();
    let line = wait_for_log(&t.daemon, "the wrong-world rejection", "at world");
    assert!(
        line.contains("exports neither") && line.contains("still serving trend 0.3.0"),
        "{line}"
    );
    let cycle_after_rejections = pulse_testkit::status_cycle(&t.memcached).unwrap();
    wait_for("two more cycles", Duration::from_secs(10), || {
        pulse_testkit::status_cycle(&t.memcached).filter(|&c| c >= cycle_after_rejections + 2)
    });
    assert_eq!(trend_version_in_signals(&t.memcached), Some("0.3.0"));
    assert!(status_plugins(&t.memcached).contains(&("trend".into(), "0.3.0".into())));
    t.finish();
}

#[test]
fn a_side_config_reinits_the_plugin_and_a_bad_one_is_rejected() {
    let t = Swapping::start();
    std::fs::write(t.dir().join("trend.toml"), "fast = 20\nslow = 10\n").unwrap();
    let line = wait_for_log(
        &t.daemon,
        "the bad-config rejection",
        "must be at least 1 and below slow",
    );
    assert!(
        line.contains("at trial") && line.contains("still serving trend 0.3.0"),
        "{line}"
    );
    std::fs::write(t.dir().join("trend.toml"), "fast = 3\nslow = 9\n").unwrap();
    wait_for_log(&t.daemon, "the re-init swap", "swapped plugin trend 0.3.0 -> 0.3.0");
    t.finish();
}

/// A plugin that sleeps for a minute in its trial call (a blocking host call, which the epoch
/// deadline cannot cut) is rejected at its deadline, and later swaps still happen.
#[test]
fn a_plugin_sleeping_in_its_trial_is_rejected_and_swaps_go_on() {
    let t = Swapping::start();
    std::fs::copy(
        pulse_testkit::fixture_wasm("fault_sleep"),
        t.dir().join("fault_sleep.wasm"),
    )
    .unwrap();
    let line = wait_for_log(
        &t.daemon,
        "the sleeping plugin's rejection",
        "fault_sleep.wasm\" at trial",
    );
    assert!(line.contains("inside a blocking host call"), "{line}");
    std::fs::write(t.dir().join("trend.toml"), "fast = 3\nslow = 9\n").unwrap();
    wait_for_log(
        &t.daemon,
        "a swap after the sleeping plugin",
        "swapped plugin trend 0.3.0 -> 0.3.0",
    );
    t.finish();
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn two_hundred_swaps_leave_resident_memory_flat() {
    // Its 220 stagings would load the cores under the other tests' daemons.
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let plugins = plugin_dir(&["trend"]);
    let cache = tempfile::tempdir().unwrap();
    let config = pulse::config::Config {
        plugin_dir: plugins.path().to_path_buf(),
        compile_cache: Some(cache.path().to_path_buf()),
        ..Default::default()
    };
    let (mut reloader, mut feed) = pulse::startup::load_plugins(&config).unwrap();
    let versions = [
        (std::fs::read(plugin_wasm("trend")).unwrap(), "0.3.0"),
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
