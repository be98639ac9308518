//! Strategy owners: a candidate version runs as a shadow beside the serving one on live data,
//! is compared with it, and never writes. The daemon writes through a proxy that records every
//! item, so no write of the shadow's output can slip by between two reads.

use std::time::Duration;

use pulse_testkit::proxy::Proxy;
use pulse_testkit::written::Writes;
use pulse_testkit::{fixture_wasm, http_get, plugin_dir, scrape, value, wait_for, Daemon, Memcached};
use serde_json::Value;

/// The shadow's version, as its `describe` gives it.
const SHIFTED: &str = "2.1.0-shifted";

/// Puts `wasm` in place as `shadow/NAME.wasm` of plugin directory `dir`, as a deploy would:
/// written under a hidden name, then renamed.
fn place_shadow(dir: &std::path::Path, wasm: &std::path::Path, name: &str) {
    let shadows = dir.join("shadow");
    std::fs::create_dir_all(&shadows).unwrap();
    let hidden = shadows.join(format!(".{name}.wasm.tmp"));
    std::fs::copy(wasm, &hidden).unwrap();
    std::fs::rename(&hidden, shadows.join(format!("{name}.wasm"))).unwrap();
}

/// A daemon serving the plugins of `dir`, writing to `cache` (in front of `memcached`) every
/// 0.5 s, with `extra` flags, once it has pushed a cycle.
fn serve(dir: &std::path::Path, memcached: &Memcached, cache: &str, extra: &[&str]) -> Daemon {
    let mut args = vec!["--interval", "0.5", "--ttl", "10", "--symbols", "30"];
    args.extend_from_slice(extra);
    let daemon = Daemon::serve(dir.to_str().unwrap(), cache, &args);
    wait_for("a push", Duration::from_secs(30), || {
        pulse_testkit::status_cycle(memcached)
    });
    daemon
}

/// Every cycle wrote its status, in order: none was missed, swaps and rollbacks included.
fn no_cycle_missed(writes: &Writes) {
    let cycles: Vec<u64> = writes
        .all()
        .iter()
        .filter(|item| item.key == "pulse:status")
        .map(|item| {
            serde_json::from_slice::<Value>(&item.value).unwrap()["cycle"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        cycles.windows(2).all(|w| w[1] == w[0] + 1),
        "cycles written: {cycles:?}"
    );
}

#[test]
fn a_shadow_is_compared_with_the_serving_version_never_written_and_compared_alike_offline() {
    let memcached = Memcached::start();
    let writes = Writes::default();
    let cache = Proxy::tapped(&memcached.addr, writes.clone());
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let recording = tempfile::tempdir().unwrap();
    let market = recording.path().join("market.jsonl");
    let mut daemon = serve(
        plugins.path(),
        &memcached,
        &cache.addr,
        &["--record", market.to_str().unwrap()],
    );

    place_shadow(plugins.path(), &fixture_wasm("trend_shifted"), "trend");
    wait_for("the shadow to be staged", Duration::from_secs(30), || {
        daemon
            .log()
            .contains(&format!("shadow trend {SHIFTED} staged; it runs beside trend 0.3.0"))
            .then_some(())
    });
    let url = format!("{}/shadow/trend", daemon.status_url());
    let shadow: Value = wait_for("a compared cycle", Duration::from_secs(30), || {
        let (code, body) = http_get(&url);
        let shadow: Value = serde_json::from_str(&body).ok()?;
        (code == 200 && shadow["cycles"].as_u64() >= Some(3)).then_some(shadow)
    });
    assert_eq!(shadow["role"], "shadow", "{shadow}");
    assert_eq!(shadow["version"], SHIFTED, "{shadow}");
    assert_eq!(shadow["calls_failed"], 0, "{shadow}");
    assert!(shadow["serving"].as_str().unwrap().starts_with("0.3.0@"), "{shadow}");
    // Every score moved by exactly 5, on every symbol both versions scored.
    let last = &shadow["last_cycle"];
    assert_eq!(last["symbols_both_scored"], 30, "{shadow}");
    assert_eq!(
        (
            last["only_serving_scored"].as_u64(),
            last["only_shadow_scored"].as_u64()
        ),
        (Some(0), Some(0))
    );
    for figure in ["score_delta_mean_abs", "score_delta_max_abs"] {
        let delta = last[figure].as_f64().unwrap();
        assert!((delta - 5.0).abs() < 1e-9, "{figure} is {delta}: {shadow}");
    }
    let total = &shadow["since_loaded"];
    assert!(total["symbols_both_scored"].as_u64().unwrap() >= 90, "{shadow}");
    assert!(
        (total["score_delta_mean_abs"].as_f64().unwrap() - 5.0).abs() < 1e-9,
        "{shadow}"
    );

    let metrics = scrape(&daemon.status_url());
    let max = value(&metrics, "pulse_shadow_score_delta_max_abs{plugin=\"trend\"}");
    assert!((max - 5.0).abs() < 1e-9, "{max}");
    let agreement = value(&metrics, "pulse_shadow_agreement_ratio{plugin=\"trend\"}");
    assert!((0.0..=1.0).contains(&agreement), "{agreement}");
    assert!(value(&metrics, "pulse_shadow_calls_total{plugin=\"trend\",outcome=\"ok\"}") >= 3.0);
    let (_, list) = http_get(&format!("{}/plugins", daemon.status_url()));
    let list: Vec<Value> = serde_json::from_str(&list).unwrap();
    let trends: Vec<&Value> = list.iter().filter(|p| p["name"] == "trend").collect();
    assert_eq!(trends.len(), 2, "the serving trend and its shadow: {list:?}");
    assert_eq!(trends[1]["role"], "shadow");

    // Not one item written carries the shadow's output, while the serving trend's does.
    let written = writes.all();
    let breakdowns: Vec<String> = written
        .iter()
        .filter(|item| item.key.starts_with("analysis:breakdown:"))
        .map(|item| String::from_utf8_lossy(&item.value).into_owned())
        .collect();
    assert!(breakdowns.len() >= 90, "{} breakdowns written", breakdowns.len());
    let trend_versions: Vec<Value> = breakdowns
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).unwrap()["analyzers"]["trend"]["version"].clone())
        .collect();
    assert!(trend_versions.iter().all(|v| v == "0.3.0"), "{trend_versions:?}");
    let leaked = written
        .iter()
        .find(|item| String::from_utf8_lossy(&item.value).contains(SHIFTED));
    assert!(leaked.is_none(), "the shadow's output was written: {leaked:?}");
    let (code, _) = http_get(&format!("{}/shadow/volatility", daemon.status_url()));
    assert_eq!(code, 404);
    // What the live shadow said about three cycles, to hold the offline comparison to.
    let mut live: Vec<Value> = Vec::new();
    while live.len() < 3 {
        let seen = wait_for("the next compared cycle", Duration::from_secs(30), || {
            let shadow: Value = serde_json::from_str(&http_get(&url).1).ok()?;
            let newer = live
                .last()
                .is_none_or(|last| shadow["cycle"].as_u64() > last["cycle"].as_u64());
            newer.then_some(shadow)
        });
        live.push(seen);
    }

    // Promoted: the shadow's file replaces the serving one, and it serves from a cycle boundary.
    let promoted = pulse_testkit::pulse(&["promote", "trend", "--plugins", plugins.path().to_str().unwrap()]);
    let text = pulse_testkit::text(&promoted);
    assert!(promoted.status.success(), "{text}");
    assert!(text.starts_with("promoted trend: "), "{text}");
    let first_shifted = wait_for("the promoted version's first push", Duration::from_secs(30), || {
        writes.all().iter().position(|item| {
            item.key.starts_with("analysis:breakdown:") && String::from_utf8_lossy(&item.value).contains(SHIFTED)
        })
    });
    wait_for("two more cycles", Duration::from_secs(30), || {
        let statuses = writes.all()[first_shifted..]
            .iter()
            .filter(|i| i.key == "pulse:status")
            .count();
        (statuses >= 2).then_some(())
    });
    let log = daemon.log();
    assert!(
        log.contains(&format!("swapped plugin trend 0.3.0 -> {SHIFTED}")),
        "{log}"
    );
    assert!(log.contains("unloaded shadow trend"), "{log}");
    no_cycle_missed(&writes);
    // After the swap, no cycle mixes versions: every breakdown of a cycle has the same trend.
    let after: Vec<String> = writes.all()[first_shifted..]
        .iter()
        .filter(|item| item.key.starts_with("analysis:breakdown:"))
        .map(|item| String::from_utf8_lossy(&item.value).into_owned())
        .collect();
    assert!(
        after.iter().all(|b| b.contains(SHIFTED)),
        "a breakdown of the old version after the swap"
    );

    // Offline, on the market the daemon recorded, the comparison is the live shadow's.
    assert!(daemon.stop(), "{}", daemon.log());
    let versions = tempfile::tempdir().unwrap();
    let (old, new) = (versions.path().join("old"), versions.path().join("new"));
    for (dir, wasm) in [
        (&old, pulse_testkit::plugin_wasm("trend")),
        (&new, fixture_wasm("trend_shifted")),
    ] {
        std::fs::create_dir(dir).unwrap();
        std::fs::copy(wasm, dir.join("trend.wasm")).unwrap();
    }
    let (old, new) = (old.join("trend.wasm"), new.join("trend.wasm"));
    let compared = pulse_testkit::pulse(&[
        "replay",
        "--compare",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--input",
        market.to_str().unwrap(),
    ]);
    let text = pulse_testkit::text(&compared);
    assert!(compared.status.success(), "{text}");
    let offline: Vec<Value> = String::from_utf8_lossy(&compared.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for seen in &live {
        let cycle = &seen["cycle"];
        let same = offline
            .iter()
            .find(|line| &line["cycle"] == cycle)
            .unwrap_or_else(|| panic!("no offline comparison of cycle {cycle}: {text}"));
        assert_eq!(seen["last_cycle"]["symbols_both_scored"], 30, "{seen}");
        assert_eq!(same["last_cycle"], seen["last_cycle"], "cycle {cycle}");
    }
    assert!(text.contains("compared trend over "), "{text}");
}

#[test]
fn a_shadow_aggregator_is_compared_key_by_key() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    // Values this small drop the dashboard's larger keys, the serving version's and the
    // shadow's alike; each says so in its own line.
    let config = plugins.path().join("pulse.toml");
    std::fs::write(&config, "[sandbox]\nmax_value_bytes = 1500\n").unwrap();
    let daemon = serve(
        plugins.path(),
        &memcached,
        &memcached.addr,
        &["--config", config.to_str().unwrap()],
    );
    // The same dashboard as a shadow: on the same input, every key alike.
    place_shadow(plugins.path(), &pulse_testkit::plugin_wasm("dashboard"), "dashboard");
    let url = format!("{}/shadow/dashboard", daemon.status_url());
    let shadow: Value = wait_for("two compared cycles", Duration::from_secs(30), || {
        let (code, body) = http_get(&url);
        let shadow: Value = serde_json::from_str(&body).ok()?;
        (code == 200 && shadow["cycles"].as_u64() >= Some(2)).then_some(shadow)
    });
    let last = &shadow["last_cycle"];
    assert_eq!(shadow["kind"], "aggregator", "{shadow}");
    assert!(last["keys_same"].as_u64().unwrap() > 30, "{shadow}");
    for differing in ["keys_added", "keys_removed", "keys_changed"] {
        assert_eq!(last[differing], 0, "{shadow}");
    }
    assert_eq!(last["agreement"], 1.0, "{shadow}");
    let metrics = scrape(&daemon.status_url());
    assert_eq!(
        value(&metrics, "pulse_shadow_agreement_ratio{plugin=\"dashboard\"}"),
        1.0
    );
    let log = daemon.log();
    let dropped = |line: &&str| line.contains("cache entries; first: ") && line.contains("1500");
    let serving = log.lines().filter(dropped).find(|line| !line.contains("shadow"));
    let shadowed = log
        .lines()
        .filter(dropped)
        .find(|line| line.contains("shadow dashboard dropped"));
    assert!(serving.is_some() && shadowed.is_some(), "{log}");
}

#[test]
fn a_promoted_version_that_starts_failing_is_rolled_back_before_its_quarantine_and_stays_so() {
    let memcached = Memcached::start();
    let writes = Writes::default();
    let cache = Proxy::tapped(&memcached.addr, writes.clone());
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let state = tempfile::tempdir().unwrap();
    let keep_state = ["--state-dir", state.path().to_str().unwrap()];
    let mut daemon = serve(plugins.path(), &memcached, &cache.addr, &keep_state);
    let dir = plugins.path();
    // Far enough ahead that the candidate is staged, tried and promoted before it breaks.
    let fail_from = pulse_testkit::status_cycle(&memcached).unwrap() + 20;
    std::fs::create_dir_all(dir.join("shadow")).unwrap();
    std::fs::write(
        dir.join("shadow/trend.toml"),
        format!("fail_from_cycle = {fail_from}\n"),
    )
    .unwrap();
    place_shadow(dir, &fixture_wasm("trend_breaks"), "trend");
    wait_for("the candidate as a shadow", Duration::from_secs(30), || {
        daemon.log().contains("shadow trend 9.9.9-breaks staged").then_some(())
    });
    let promoted = pulse_testkit::pulse(&["promote", "trend", "--plugins", dir.to_str().unwrap()]);
    assert!(promoted.status.success(), "{}", pulse_testkit::text(&promoted));
    wait_for("the swap", Duration::from_secs(30), || {
        daemon
            .log()
            .contains("swapped plugin trend 0.3.0 -> 9.9.9-breaks")
            .then_some(())
    });
    let trend = |list: &str| -> Value {
        let list: Vec<Value> = serde_json::from_str(list).unwrap();
        list.into_iter().find(|p| p["name"] == "trend").unwrap_or_default()
    };
    let on_probation = wait_for("the new version in /plugins", Duration::from_secs(30), || {
        let listed = trend(&http_get(&format!("{}/plugins", daemon.status_url())).1);
        (listed["version"] == "9.9.9-breaks").then_some(listed)
    });
    assert!(
        on_probation["probation"]["cycles_left"].as_u64() > Some(0),
        "{on_probation}"
    );

    let line = wait_for("the rollback", Duration::from_secs(60), || {
        daemon
            .log()
            .lines()
            .find(|l| l.contains("rolled back plugin trend 9.9.9-breaks -> 0.3.0"))
            .map(str::to_string)
    });
    assert!(
        line.contains(&format!("in cycle {}: it failed 3 cycles in a row", fail_from + 2)),
        "{line}"
    );
    assert!(!daemon.log().contains("quarantined plugin trend"), "{}", daemon.log());
    let restored = wait_for("the old version's breakdowns", Duration::from_secs(30), || {
        writes.all().iter().rev().find_map(|item| {
            let value: Value = serde_json::from_slice(&item.value).ok()?;
            let trend = &value["analyzers"]["trend"];
            (item.key.starts_with("analysis:breakdown:")
                && trend["version"] == "0.3.0"
                && value["cycle"].as_u64()? > fail_from)
                .then(|| value["cycle"].as_u64().unwrap())
        })
    });
    // Failing in cycles F, F+1 and F+2, rolled back in F+2: the old version serves from F+3 on.
    let first_restored = writes
        .all()
        .iter()
        .filter(|item| item.key.starts_with("analysis:breakdown:"))
        .filter_map(|item| serde_json::from_slice::<Value>(&item.value).ok())
        .filter(|v| v["analyzers"]["trend"]["version"] == "0.3.0" && v["cycle"].as_u64() > Some(fail_from))
        .filter_map(|v| v["cycle"].as_u64())
        .min()
        .unwrap();
    assert!(
        first_restored <= fail_from + 4 && first_restored <= restored,
        "restored in cycle {first_restored}, failing from {fail_from}"
    );
    no_cycle_missed(&writes);
    let after = trend(&http_get(&format!("{}/plugins", daemon.status_url())).1);
    assert_eq!(after["version"], "0.3.0", "{after}");
    assert!(
        after["probation"].is_null(),
        "a version swapped back is not on probation: {after}"
    );
    let why = after["rolled_back"]["reason"].as_str().unwrap_or_default();
    assert!(why.starts_with("it failed 3 cycles in a row"), "{after}");

    // The same build promoted again stays refused, and the log says why.
    place_shadow(dir, &fixture_wasm("trend_breaks"), "trend");
    let promoted = pulse_testkit::pulse(&["promote", "trend", "--plugins", dir.to_str().unwrap()]);
    assert!(promoted.status.success(), "{}", pulse_testkit::text(&promoted));
    let again = format!(
        "again: this same build was rolled back in cycle {}: it failed 3 cycles in a row",
        fail_from + 2
    );
    wait_for("the build refused again", Duration::from_secs(30), || {
        daemon.log().contains(&again).then_some(())
    });
    let still = trend(&http_get(&format!("{}/plugins", daemon.status_url())).1);
    assert_eq!(still["version"], "0.3.0", "{still}");

    // A restart keeps the rollback: the file is still refused, the old version serves.
    assert!(daemon.stop(), "{}", daemon.log());
    let restarted = serve(dir, &memcached, &memcached.addr, &keep_state);
    let expected = format!(
        "it was rolled back in cycle {}: it failed 3 cycles in a row",
        fail_from + 2
    );
    let log = wait_for("the file refused again", Duration::from_secs(30), || {
        let log = restarted.log();
        log.contains("pulse running").then_some(log)
    });
    assert!(log.contains(&expected), "{log}");
    assert!(
        log.contains("the version it replaced, kept in the state directory, serves instead"),
        "{log}"
    );
    wait_for("a cycle of the restarted daemon", Duration::from_secs(30), || {
        let listed = trend(&http_get(&format!("{}/plugins", restarted.status_url())).1);
        (listed["calls"].as_u64() > Some(0)).then_some(())
    });
    let listed = trend(&http_get(&format!("{}/plugins", restarted.status_url())).1);
    assert_eq!(listed["version"], "0.3.0", "{listed}");
}
