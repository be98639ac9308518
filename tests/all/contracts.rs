//! Every contract version at once: plugins built for `pulse:plugin@0.1.0` before 0.2.0
//! existed, for `@0.2.0` before 0.3.0 and for `@0.3.0` before 0.4.0 (binaries kept in
//! `tests/fixtures/contract-*`), behave exactly as they did, and serve in one daemon beside
//! 0.4.0 plugins, against a real memcached.

use std::path::PathBuf;
use std::time::Duration;

use pulse_testkit::{
    fixture_wasm, http_get, plugin_wasm, pulse, repo_root, status_cycle, text, wait_for, Daemon, Memcached,
};

/// A file of the fixtures of contract `version`.
fn built_for(version: &str, name: &str) -> PathBuf {
    repo_root()
        .join(format!("tests/fixtures/contract-{version}"))
        .join(name)
}

/// A file of the 0.1.0 fixtures.
fn old(name: &str) -> PathBuf {
    built_for("0.1.0", name)
}

/// A plugin directory with the named plugins, each `(name, file)`.
fn plugins(files: &[(&str, PathBuf)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in files {
        std::fs::copy(file, dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

/// Replays the recorded market of the fixtures of `version` with their plugins and requires
/// the very entries they wrote when that version was the newest.
fn replays_into_the_keys_written_then(version: &str) {
    let dir = plugins(&[
        ("trend", built_for(version, "trend.wasm")),
        ("volatility", built_for(version, "volatility.wasm")),
        ("dashboard", built_for(version, "dashboard.wasm")),
    ]);
    let out = tempfile::NamedTempFile::new().unwrap();
    let input = built_for(version, "market.jsonl");
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
    let before = std::fs::read_to_string(built_for(version, "keys.jsonl")).unwrap();
    assert_eq!(
        now.lines().count(),
        before.lines().count(),
        "a different number of entries"
    );
    for (i, (now, before)) in now.lines().zip(before.lines()).enumerate() {
        assert_eq!(now, before, "entry {} differs from what {version} plugins wrote", i + 1);
    }
}

#[test]
fn plugins_built_for_0_1_0_replay_into_the_very_keys_they_wrote_before_0_2_0() {
    replays_into_the_keys_written_then("0.1.0");
}

#[test]
fn plugins_built_for_0_2_0_replay_into_the_very_keys_they_wrote_before_0_3_0() {
    // Their candles (every column, as 0.2.0 hands them) are in the recording's snapshots.
    replays_into_the_keys_written_then("0.2.0");
}

#[test]
fn plugins_built_for_0_3_0_replay_into_the_very_keys_they_wrote_before_0_4_0() {
    // Their symbols are handed over one string each, and they are handed no state.
    replays_into_the_keys_written_then("0.3.0");
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
    let trend_0_2 = pulse(&["check", built_for("0.2.0", "trend.wasm").to_str().unwrap()]);
    assert!(trend_0_2.status.success(), "{}", text(&trend_0_2));
    for said in ["world     analyzer (pulse:plugin@0.2.0)", "candles 1m×60, 1h×30"] {
        assert!(text(&trend_0_2).contains(said), "{said}: {}", text(&trend_0_2));
    }
    let new_dashboard = pulse(&["check", plugin_wasm("dashboard").to_str().unwrap()]);
    assert!(new_dashboard.status.success(), "{}", text(&new_dashboard));
    for said in [
        "world     aggregator (pulse:plugin@0.4.0)",
        "candles 1m×60 (start-ms, close)",
    ] {
        assert!(text(&new_dashboard).contains(said), "{said}: {}", text(&new_dashboard));
    }
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
fn plugins_of_every_contract_serve_in_one_daemon() {
    let dir = plugins(&[
        ("trend", old("trend.wasm")),
        ("volatility", built_for("0.2.0", "volatility.wasm")),
        ("counter", fixture_wasm("counter")),
        ("dashboard", built_for("0.3.0", "dashboard.wasm")),
    ]);
    serves_together(
        &dir,
        &[
            ("trend", "0.1.0"),
            ("volatility", "0.2.0"),
            ("counter", "0.4.0"),
            ("dashboard", "0.3.0"),
        ],
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
        &[("trend", "0.4.0"), ("volatility", "0.4.0"), ("dashboard", "0.1.0")],
    );
}
