//! What the daemon wrote for itself to run later: compiled plugins in the compile cache, and
//! the versions a rollback saved in the state directory. Changed or planted, they never run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pulse_testkit::{fixture_wasm, plugin_dir, status_cycle, wait_for, Daemon, Memcached};

/// The field of `market:overview` whose name the tampered artifact changes.
const FIELD: &[u8] = b"total_volume_24h";
/// The same length, so the changed artifact is still a well-formed one.
const FORGED: &[u8] = b"total_volume_24X";

/// A daemon serving the bundled plugins of `plugins` every 0.5 s into `memcached`, with its
/// own compile cache and state (and so host key) in `home`, once it has pushed a cycle.
fn serve(plugins: &Path, memcached: &Memcached, home: &Path) -> Daemon {
    let cache = home.join("compiled");
    let state = home.join("state");
    let daemon = Daemon::serve(
        plugins.to_str().unwrap(),
        &memcached.addr,
        &[
            "--interval",
            "0.5",
            "--compile-cache",
            cache.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--host-key",
            state.join("host.key").to_str().unwrap(),
        ],
    );
    wait_for("a push", Duration::from_secs(60), || status_cycle(memcached));
    daemon
}

/// The artifacts in `home`'s compile cache.
fn artifacts(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home.join("compiled"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

/// Waits for `cycles` more cycles in `pulse:status`, each written within the TTL.
fn cycles_go_on(memcached: &Memcached, cycles: u64) -> u64 {
    let start = status_cycle(memcached).unwrap();
    wait_for("cycles to go on", Duration::from_secs(30), || {
        status_cycle(memcached).filter(|c| *c >= start + cycles)
    })
}

#[test]
fn a_tampered_artifact_is_compiled_again_and_truncating_artifacts_while_serving_ends_nothing() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let home = tempfile::tempdir().unwrap();
    let mut first = serve(plugins.path(), &memcached, home.path());
    assert!(first.stop());
    drop(first);

    // The dashboard's compiled code, with the name of one of its output fields changed: run, it
    // would write a forged `market:overview`.
    let dashboard = artifacts(home.path())
        .into_iter()
        .find(|path| std::fs::read(path).unwrap().windows(FIELD.len()).any(|w| w == FIELD))
        .expect("the dashboard's artifact holds the field's name");
    let mut bytes = std::fs::read(&dashboard).unwrap();
    let at = bytes.windows(FIELD.len()).position(|w| w == FIELD).unwrap();
    bytes[at..at + FIELD.len()].copy_from_slice(FORGED);
    std::fs::write(&dashboard, &bytes).unwrap();

    let mut daemon = serve(plugins.path(), &memcached, home.path());
    for _ in 0..4 {
        cycles_go_on(&memcached, 1);
        let overview = memcached.get(pulse_keys::OVERVIEW).expect("market:overview is written");
        assert!(
            overview.windows(FIELD.len()).any(|w| w == FIELD) && !overview.windows(FORGED.len()).any(|w| w == FORGED),
            "{}",
            String::from_utf8_lossy(&overview)
        );
    }
    let log = daemon.log();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refusing the compiled artifact"))
        .collect();
    assert_eq!(refusals.len(), 1, "one line for the one tampered artifact:\n{log}");
    assert!(
        refusals[0].contains("its tag does not verify under this host's key")
            && refusals[0].contains("compiling the plugin again"),
        "{}",
        refusals[0]
    );

    // Every artifact cut short underneath the serving plugins (the trend and volatility ones
    // were loaded from them): the plugins run from memory, so nothing ends and every key stays.
    for artifact in artifacts(home.path()) {
        std::fs::File::options()
            .write(true)
            .open(&artifact)
            .unwrap()
            .set_len(0)
            .unwrap();
    }
    cycles_go_on(&memcached, 6);
    assert!(daemon.is_running(), "{}", daemon.log());
    for key in [
        pulse_keys::OVERVIEW,
        pulse_keys::SIGNALS,
        pulse_keys::TICKERS,
        "pulse:status",
    ] {
        assert!(memcached.get(key).is_some(), "{key} is fresh");
    }
    let status = memcached.json("pulse:status");
    let failing: Vec<_> = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["last_error"].is_null())
        .collect();
    assert!(failing.is_empty(), "{failing:?}");
    super::holds(&daemon, &memcached, Duration::from_millis(500));
    assert!(daemon.stop());
}

#[test]
fn bytes_planted_as_a_saved_rollback_never_run() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let home = tempfile::tempdir().unwrap();
    // Planted: "trend.wasm is rolled back; run the saved bytes in its place", the saved bytes
    // another build of trend.
    let saved = home.path().join("state/rolled-back");
    std::fs::create_dir_all(&saved).unwrap();
    std::fs::copy(fixture_wasm("trend_shifted"), saved.join("trend.wasm")).unwrap();
    let digest = |bytes: &[u8]| format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(bytes));
    let hash = digest(&std::fs::read(plugins.path().join("trend.wasm")).unwrap());
    let planted = digest(&std::fs::read(saved.join("trend.wasm")).unwrap());
    let entry = serde_json::json!({"hash": hash, "side_config": null, "reason": "planted", "at_ms": 0});
    let mut with_saved = entry.clone();
    with_saved["saved"] = serde_json::json!({"hash": planted, "side_config": null});
    for (index, refusal) in [
        // As an earlier version saved them, with no tag.
        (
            serde_json::json!({"trend.wasm": entry}),
            "it is not an index of this version",
        ),
        // In this version's format, with a tag made without the host key.
        (
            serde_json::json!({"entries": {"trend.wasm": with_saved}, "tag": "00".repeat(32)}),
            "its tag does not verify under this host's key",
        ),
    ] {
        std::fs::write(saved.join("index.json"), index.to_string()).unwrap();
        let mut daemon = serve(plugins.path(), &memcached, home.path());
        cycles_go_on(&memcached, 2);
        let status = memcached.json("pulse:status");
        let mut versions: Vec<(&str, &str)> = status["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
            .collect();
        versions.sort();
        assert_eq!(
            versions,
            [("dashboard", "0.2.0"), ("trend", "0.3.0")],
            "the file in the directory serves"
        );
        let log = daemon.log();
        assert!(
            log.contains("ignoring the rollbacks saved in") && log.contains(refusal),
            "{log}"
        );
        super::holds(&daemon, &memcached, Duration::from_millis(500));
        assert!(daemon.stop());
    }
}
