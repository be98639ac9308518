//! Both contract versions at once: plugins built for `pulse:plugin@0.1.0` before 0.2.0 existed
//! (binaries kept in `tests/fixtures/contract-0.1.0`) behave exactly as they did, and serve in
//! one daemon beside 0.2.0 plugins, against a real memcached.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{http_get, plugin_wasm, pulse, repo_root, status_cycle, text, wait_for, Daemon, Memcached};

/// A file of the 0.1.0 fixtures.
fn old(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/contract-0.1.0").join(name)
}

/// A plugin directory with the named plugins, each `(name, file)`.
fn plugins(files: &[(&str, PathBuf)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in files {
        std::fs::copy(file, dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

#[test]
fn plugins_built_for_0_1_0_replay_into_the_very_keys_they_wrote_before_0_2_0() {
    let dir = plugins(&[
        ("trend", old("trend.wasm")),
        ("volatility", old("volatility.wasm")),
        ("dashboard", old("dashboard.wasm")),
    ]);
    let out = tempfile::NamedTempFile::new().unwrap();
    let input = old("market.jsonl");
    let result = pulse(&[
        "replay",
        "--plugins",
        dir.path().to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result));
    let now = std::fs::read_to_string(out.path()).unwrap();
    let before = std::fs::read_to_string(old("keys.jsonl")).unwrap();
    assert_eq!(
        now.lines().count(),
        before.lines().count(),
        "a different number of entries"
    );
    for (i, (now, before)) in now.lines().zip(before.lines()).enumerate() {
        assert_eq!(
            now,
            before,
            "entry {} differs from what 0.1.0 plugins wrote before 0.2.0",
            i + 1
        );
    }
}

#[test]
fn pulse_check_says_which_contract_a_plugin_speaks() {
    let old_trend = pulse(&["check", old("trend.wasm").to_str().unwrap()]);
    assert!(old_trend.status.success(), "{}", text(&old_trend));
    assert!(
        text(&old_trend).contains("world     analyzer (pulse:plugin@0.1.0)"),
        "{}",
        text(&old_trend)
    );
    let new_dashboard = pulse(&["check", plugin_wasm("dashboard").to_str().unwrap()]);
    assert!(new_dashboard.status.success(), "{}", text(&new_dashboard));
    assert!(
        text(&new_dashboard).contains("world     aggregator (pulse:plugin@0.2.0)"),
        "{}",
        text(&new_dashboard)
    );
}

/// Runs a daemon on `dir` until cycle 3, then checks `pulse verify`, the analyzers in a
/// breakdown key, and each plugin's contract in `/plugins`.
fn serves_together(dir: &tempfile::TempDir, contracts: &[(&str, &str)]) {
    let memcached = Memcached::start();
    let daemon = Daemon::serve(
        dir.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.3", "--symbols", "10"],
    );
    wait_for("cycle 3 in pulse:status", Duration::from_secs(30), || {
        status_cycle(&memcached).filter(|&c| c >= 3)
    });
    let verify = pulse(&["verify", "--memcached", &memcached.addr]);
    assert!(verify.status.success(), "{}\n{}", text(&verify), daemon.log());
    let breakdown = memcached.json(&pulse_keys::breakdown_key("BTCUSDT"));
    for analyzer in ["trend", "volatility"] {
        assert!(
            breakdown["analyzers"][analyzer]["score"].is_number(),
            "{analyzer} missing from {breakdown}"
        );
    }
    let (code, body) = http_get(&format!("{}/plugins", daemon.status_url()));
    assert_eq!(code, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    for &(name, contract) in contracts {
        let plugin = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in /plugins: {body}"));
        assert_eq!(plugin["contract"], contract, "{name}: {plugin}");
    }
}

#[test]
fn an_old_analyzer_serves_beside_new_plugins() {
    let dir = plugins(&[
        ("trend", old("trend.wasm")),
        ("volatility", plugin_wasm("volatility")),
        ("dashboard", plugin_wasm("dashboard")),
    ]);
    serves_together(
        &dir,
        &[("trend", "0.1.0"), ("volatility", "0.2.0"), ("dashboard", "0.2.0")],
    );
}

#[test]
fn an_old_aggregator_writes_what_new_analyzers_found() {
    let dir = plugins(&[
        ("trend", plugin_wasm("trend")),
        ("volatility", plugin_wasm("volatility")),
        ("dashboard", old("dashboard.wasm")),
    ]);
    serves_together(
        &dir,
        &[("trend", "0.2.0"), ("volatility", "0.2.0"), ("dashboard", "0.1.0")],
    );
}
