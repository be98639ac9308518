//! Plugins that remember (contract 0.4.0): a `counter` fixture counts its own calls and, per
//! symbol, the cycles it saw and the highest price, in its state. Each call logs its count
//! (`counter VERSION: call N`), which is how a shadow's count is read, and the serving
//! version's per-symbol counts reach memcached through the dashboard's breakdowns.

use std::path::Path;
use std::time::Duration;

use pulse_testkit::{fixture_wasm, http_get, plugin_wasm, wait_for, Daemon, Memcached};
use serde_json::Value;

/// The calls `version` of `counter` counted, in the order its lines were logged, from the
/// first line that says `after` on (the staging of a version calls it once, its trial, before
/// the line that says it serves).
fn calls_after(log: &str, after: &str, version: &str) -> Vec<u64> {
    log.find(after).map_or_else(Vec::new, |at| calls(&log[at..], version))
}

/// The calls `version` of `counter` counted, in the order its lines were logged.
fn calls(log: &str, version: &str) -> Vec<u64> {
    let tag = format!("counter {version}: call ");
    log.lines()
        .filter_map(|line| line.split_once(&tag))
        .filter_map(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

/// Puts `wasm` in place as `NAME.wasm` in `dir` (a plugin directory or its `shadow/`), as a
/// deploy would: written aside, then renamed.
fn place(dir: &Path, wasm: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let hidden = dir.join(format!(".{name}.wasm.tmp"));
    std::fs::copy(wasm, &hidden).unwrap();
    std::fs::rename(&hidden, dir.join(format!("{name}.wasm"))).unwrap();
}

/// A daemon serving `dir` every 0.3 s on 30 simulated symbols, once it has pushed.
fn serve(dir: &Path, memcached: &Memcached) -> Daemon {
    let args = ["--interval", "0.3", "--ttl", "10", "--symbols", "30"];
    let daemon = Daemon::serve(dir.to_str().unwrap(), &memcached.addr, &args);
    wait_for("a push", Duration::from_secs(30), || {
        pulse_testkit::status_cycle(memcached)
    });
    daemon
}

/// `counter` as `/plugins` lists it (the serving version).
fn listed(daemon: &Daemon) -> Value {
    let list: Vec<Value> = serde_json::from_str(&http_get(&format!("{}/plugins", daemon.status_url())).1).unwrap();
    list.into_iter()
        .find(|p| p["name"] == "counter" && p["role"].is_null())
        .unwrap_or_default()
}

#[test]
fn state_goes_on_from_cycle_to_cycle_and_reaches_the_cache() {
    let memcached = Memcached::start();
    let plugins = tempfile::tempdir().unwrap();
    place(plugins.path(), &fixture_wasm("counter"), "counter");
    place(plugins.path(), &plugin_wasm("dashboard"), "dashboard");
    let daemon = serve(plugins.path(), &memcached);
    let counted = wait_for("ten calls", Duration::from_secs(30), || {
        let counted = calls(&daemon.log(), "1.0.0");
        (counted.len() >= 10).then_some(counted)
    });
    // Every call was handed the state the one before returned: 1, 2, 3, ... with no gap.
    let expected: Vec<u64> = (1..=counted.len() as u64).collect();
    assert_eq!(counted, expected, "{}", daemon.log());
    // The per-symbol counts, in the breakdowns the dashboard wrote: every symbol was in every
    // cycle, so its count is the cycle's number, and its highest price is at least its price.
    let breakdown = wait_for("a breakdown with counts", Duration::from_secs(30), || {
        let breakdown = memcached.json(&pulse_keys::breakdown_key("BTCUSDT"));
        breakdown["analyzers"]["counter"]["components"]["cycles"].as_f64()?;
        Some(breakdown)
    });
    let counter = &breakdown["analyzers"]["counter"]["components"];
    assert_eq!(counter["cycles"].as_f64(), breakdown["cycle"].as_f64(), "{breakdown}");
    assert!(counter["max_price"].as_f64() > Some(0.0), "{breakdown}");
    let listed = listed(&daemon);
    let bytes = listed["state_bytes"].as_u64().unwrap();
    assert!((100..64 << 10).contains(&bytes), "{listed}");
    assert_eq!(listed["max_state_bytes"], 64 << 10, "{listed}");
    assert_eq!(listed["state_format"], "counter/1", "{listed}");
    assert_eq!(listed["contract"], "0.4.0", "{listed}");
}

#[test]
fn a_state_over_its_bound_fails_as_state_and_the_previous_state_is_kept() {
    let memcached = Memcached::start();
    let plugins = tempfile::tempdir().unwrap();
    place(plugins.path(), &fixture_wasm("counter"), "counter");
    // From its third call on, the counter returns more state than it declared.
    std::fs::write(plugins.path().join("counter.toml"), "overflow_at = 3\n").unwrap();
    let daemon = serve(plugins.path(), &memcached);
    let listed = wait_for("three failed calls", Duration::from_secs(30), || {
        let listed = listed(&daemon);
        (listed["failure_kinds"]["state"].as_u64() >= Some(3)).then_some(listed)
    });
    assert_eq!(listed["failures"], listed["failure_kinds"]["state"], "{listed}");
    let error = listed["last_error"].as_str().unwrap();
    assert!(
        error.contains("bytes of state, more than the 65536 it declared (max-state-bytes); its previous state is kept"),
        "{listed}"
    );
    // The state after the second call is kept: every later call starts from it, and counts 3.
    let counted = calls(&daemon.log(), "1.0.0");
    assert_eq!(&counted[..3], [1, 2, 3], "{}", daemon.log());
    assert!(counted[2..].iter().all(|&n| n == 3), "{counted:?}");
    let bytes = listed["state_bytes"].as_u64().unwrap();
    assert!((100..64 << 10).contains(&bytes), "{listed}");
}

#[test]
fn each_version_keeps_its_own_state_across_a_swap_its_rollback_a_shadow_and_its_promotion() {
    let memcached = Memcached::start();
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path();
    place(dir, &fixture_wasm("counter"), "counter");
    let mut daemon = serve(dir, &memcached);
    wait_for("three calls", Duration::from_secs(30), || {
        (calls(&daemon.log(), "1.0.0").len() >= 3).then_some(())
    });

    // A new version of the same state format takes over the state and counts on twice; then
    // its state is over its bound, so it fails three calls and is rolled back, and the old
    // version resumes its own state as it was at the swap, not the two calls counted since.
    place(dir, &fixture_wasm("counter_bloated"), "counter");
    wait_for("the rollback", Duration::from_secs(60), || {
        daemon
            .log()
            .contains("rolled back plugin counter 2.0.0-bloated -> 1.0.0")
            .then_some(())
    });
    let swapped = "swapped plugin counter 1.0.0 -> 2.0.0-bloated";
    let (old, bloated) = wait_for("the old version's next calls", Duration::from_secs(30), || {
        let log = daemon.log();
        let (old, bloated) = (calls(&log, "1.0.0"), calls_after(&log, swapped, "2.0.0-bloated"));
        (bloated.len() == 5 && old.len() as u64 > bloated[0]).then_some((old, bloated))
    });
    // The old version had counted at least three calls, and the new one went on from there,
    // twice; each of its failed calls started again from the state of its second.
    let took_over = bloated[0];
    assert!(
        took_over >= 4,
        "the new version started from the old one's state: {bloated:?}"
    );
    let expected = [took_over, took_over + 1, took_over + 2, took_over + 2, took_over + 2];
    assert_eq!(bloated, expected, "{}", daemon.log());
    // The old version's count never broke: back in service, it went on from its own state as
    // it was at the swap.
    assert_eq!(old, (1..=old.len() as u64).collect::<Vec<_>>(), "{}", daemon.log());

    // A shadow of another state format starts empty, and counts beside the serving version.
    place(&dir.join("shadow"), &fixture_wasm("counter_fresh"), "counter");
    let staged = "shadow counter 3.0.0 staged";
    let shadow = wait_for("three shadow calls", Duration::from_secs(30), || {
        let shadow = calls_after(&daemon.log(), staged, "3.0.0");
        (shadow.len() >= 3).then_some(shadow)
    });
    assert_eq!(&shadow[..3], [1, 2, 3], "{}", daemon.log());
    let serving = calls(&daemon.log(), "1.0.0");
    assert!(serving.len() > 6, "{serving:?}");
    assert_eq!(
        serving,
        (1..=serving.len() as u64).collect::<Vec<_>>(),
        "{}",
        daemon.log()
    );

    // Promoted, the shadow goes on from the state it built as a shadow.
    let promoted = pulse_testkit::pulse(&["promote", "counter", "--plugins", dir.to_str().unwrap()]);
    assert!(promoted.status.success(), "{}", pulse_testkit::text(&promoted));
    wait_for("the swap", Duration::from_secs(30), || {
        daemon
            .log()
            .contains("swapped plugin counter 1.0.0 -> 3.0.0")
            .then_some(())
    });
    let mut promoted = wait_for("calls after the promotion", Duration::from_secs(30), || {
        let log = daemon.log();
        let after = calls_after(&log, "swapped plugin counter 1.0.0 -> 3.0.0", "3.0.0");
        (after.len() >= 3).then(|| calls_after(&log, staged, "3.0.0"))
    });
    // The promoted version's trial (a first call, from empty state) logged a 1 among the
    // shadow's last calls; the calls that counted are one run.
    let trial = promoted.iter().skip(1).position(|&n| n == 1).map(|at| at + 1);
    promoted.remove(trial.expect("the promoted version's trial call"));
    assert_eq!(
        promoted,
        (1..=promoted.len() as u64).collect::<Vec<_>>(),
        "one count from the first shadow call to the last serving one: {}",
        daemon.log()
    );
    assert!(daemon.stop(), "{}", daemon.log());
}

#[test]
fn pulse_check_calls_a_stateful_plugin_again_from_the_state_it_returned() {
    let checked = pulse_testkit::pulse(&["check", fixture_wasm("counter").to_str().unwrap()]);
    let out = pulse_testkit::text(&checked);
    assert!(checked.status.success(), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("state "))
        .unwrap_or_else(|| panic!("{out}"));
    // Both calls returned a state (the second read the first's back: had it failed, the check
    // would fail and this line say so).
    let sizes: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(sizes.len() >= 2 && sizes[0] > 1000 && sizes[1] >= sizes[0], "{line}");
    assert!(line.ends_with("(declared at most 65536, format counter/1)"), "{line}");
}

#[test]
fn a_restart_goes_on_from_the_saved_state_after_a_short_stop_only() {
    // A loopback Bybit: only an exchange's market goes on across a restart, so only its
    // daemons save and take back state.
    let url = pulse_testkit::http_server(|_| (200, crate::sources::bybit_body(6, false)));
    let plugins = tempfile::tempdir().unwrap();
    place(plugins.path(), &fixture_wasm("counter"), "counter");
    let state = tempfile::tempdir().unwrap();
    let run = |interval: &str, extra: &[&str]| {
        let memcached = Memcached::start();
        let mut args = vec![
            "--source",
            "bybit",
            "--stream",
            "false",
            "--exchange-url",
            &url,
            "--interval",
            interval,
        ];
        args.extend_from_slice(&["--state-dir", state.path().to_str().unwrap()]);
        args.extend_from_slice(extra);
        (
            Daemon::serve(plugins.path().to_str().unwrap(), &memcached.addr, &args),
            memcached,
        )
    };
    let (mut first, _cache) = run("0.2", &["--cycles", "10"]);
    assert!(first.wait(), "{}", first.log());
    assert_eq!(calls(&first.log(), "1.0.0"), (1..=10).collect::<Vec<u64>>());

    // Back within ten intervals: the counter goes on from its tenth call.
    let (mut second, _cache) = run("1", &["--cycles", "2"]);
    assert!(second.wait(), "{}", second.log());
    assert_eq!(calls(&second.log(), "1.0.0"), [11, 12], "{}", second.log());
    assert!(
        second
            .log()
            .contains("warm start: of 1 plugin states saved, 1 went back to their own version"),
        "{}",
        second.log()
    );

    // Back after more than ten intervals: a hole the state cannot bridge, so it starts empty.
    std::thread::sleep(Duration::from_millis(1500));
    let (mut third, _cache) = run("0.1", &["--cycles", "2"]);
    assert!(third.wait(), "{}", third.log());
    assert_eq!(calls(&third.log(), "1.0.0"), [1, 2], "{}", third.log());
}

#[test]
fn the_replay_of_a_warm_started_daemons_recording_writes_what_it_wrote() {
    let url = pulse_testkit::http_server(|_| (200, crate::sources::bybit_body(6, false)));
    // The counter keeps state; trend of contract 0.1.0 reads the cycle's own samples, which
    // only the warm state gives back; the dashboard writes what both found.
    let plugins = tempfile::tempdir().unwrap();
    place(plugins.path(), &fixture_wasm("counter"), "counter");
    let old_trend = pulse_testkit::repo_root().join("tests/fixtures/contract-0.1.0/trend.wasm");
    place(plugins.path(), &old_trend, "trend");
    place(plugins.path(), &plugin_wasm("dashboard"), "dashboard");
    let (state, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let recording = out.path().join("market.jsonl");
    let run = |memcached: &Memcached, source: &str, extra: &[&str]| {
        let mut args = vec![
            "--source",
            source,
            "--stream",
            "false",
            "--exchange-url",
            &url,
            "--ttl",
            "60",
        ];
        args.extend_from_slice(&["--state-dir", state.path().to_str().unwrap()]);
        args.extend_from_slice(extra);
        let mut daemon = Daemon::serve(plugins.path().to_str().unwrap(), &memcached.addr, &args);
        assert!(daemon.wait(), "{}", daemon.log());
        daemon.log()
    };
    run(&Memcached::start(), "bybit", &["--interval", "0.2", "--cycles", "12"]);

    // Started warm, recorded.
    let live = Memcached::start();
    let record = [
        "--interval",
        "1",
        "--cycles",
        "4",
        "--record",
        recording.to_str().unwrap(),
    ];
    let log = run(&live, "bybit", &record);
    assert_eq!(calls(&log, "1.0.0"), [13, 14, 15, 16], "{log}");
    let lines = std::fs::read_to_string(&recording).unwrap();
    assert_eq!(lines.lines().count(), 5, "the warm start, then four snapshots");
    let warm: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(warm["warm"]["plugin_states"][0]["plugin"], "counter", "{warm:.300}");
    assert_eq!(warm["warm"]["history"].as_array().map(Vec::len), Some(6));

    // Replayed from the recording alone: the same history and state to start from, so the
    // same keys.
    let replayed = Memcached::start();
    let replay = format!("replay:{}", recording.display());
    let log = run(&replayed, &replay, &["--replay-end", "stop", "--interval", "0.2"]);
    assert_eq!(calls(&log, "1.0.0"), [13, 14, 15, 16], "{log}");
    let keys: Vec<String> = pulse_testkit::dashboard_keys(&live)
        .into_iter()
        .filter(|k| k != "pulse:status")
        .collect();
    assert!(keys.iter().any(|k| k.starts_with("analysis:breakdown:")), "{keys:?}");
    for key in &keys {
        let (a, b) = (live.get(key).unwrap(), replayed.get(key).unwrap_or_default());
        assert!(
            a == b,
            "{key} differs:\nlive:   {}\nreplay: {}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
    let breakdown = replayed.json(&pulse_keys::breakdown_key("C00USDT"));
    assert_eq!(
        breakdown["analyzers"]["counter"]["components"]["cycles"], 16.0,
        "{breakdown}"
    );
    assert!(
        breakdown["analyzers"]["trend"]["components"]["ema_slow"].is_number(),
        "{breakdown}"
    );
}
