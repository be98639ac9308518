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

    // A new version of the same state format takes over the state: it fails every call (its
    // state is over its bound), so after three it is rolled back, and the old version resumes
    // its own state as it was at the swap.
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
        (bloated.len() == 3 && old.len() as u64 > bloated[0]).then_some((old, bloated))
    });
    // The old version had counted at least three calls, and the new one went on from there;
    // each of its failed calls started again from that state.
    assert!(
        bloated[0] >= 4,
        "the new version started from the old one's state: {bloated:?}"
    );
    assert!(bloated.iter().all(|&n| n == bloated[0]), "{bloated:?}");
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
