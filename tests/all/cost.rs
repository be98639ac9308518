//! A call's cost in WebAssembly instructions: `pulse check` and `pulse replay` count them the
//! same every run; a daemon with `[sandbox] count_instructions` shows them per plugin, and a
//! call past its `max_instructions` fails as `instructions`, not as a timeout. (A budget below
//! what `describe` takes rejects the plugin at staging instead, with the same reason.)

use std::time::Duration;

use pulse_testkit::planted::Planted;
use pulse_testkit::{fixture_wasm, http_get, plugin_dir, scrape, value, wait_for, Daemon, Memcached};
use serde_json::Value;

/// The numbers of `pulse check`'s `cost` line: instructions per call at 30, 1,000 and 10,000
/// symbols.
fn check_cost(wasm: &std::path::Path) -> (String, Vec<u64>) {
    let checked = pulse_testkit::pulse(&["check", wasm.to_str().unwrap()]);
    let text = pulse_testkit::text(&checked);
    assert!(checked.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("cost      instructions per call: "))
        .unwrap_or_else(|| panic!("no cost line: {text}"))
        .to_string();
    let counts = line
        .split(", ")
        .map(|part| part.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    (line, counts)
}

#[test]
fn check_and_replay_count_the_same_instructions_every_run() {
    let trend = pulse_testkit::plugin_wasm("trend");
    let (first, counts) = check_cost(&trend);
    let (second, _) = check_cost(&trend);
    assert_eq!(first, second);
    assert!(
        counts.len() == 3 && counts[0] > 0 && counts[0] < counts[1] && counts[1] < counts[2],
        "{first}"
    );

    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("market.jsonl");
    Planted {
        symbols: 20,
        steps: 30,
        step_ms: 2_000,
        rho: 0.3,
        sigma: 0.01,
        seed: 7,
    }
    .write(&recording);
    std::fs::copy(fixture_wasm("momentum"), dir.path().join("momentum.wasm")).unwrap();
    let replay = || {
        let run = pulse_testkit::pulse(&[
            "replay",
            "--plugins",
            dir.path().to_str().unwrap(),
            "--input",
            recording.to_str().unwrap(),
            "--out",
            "/dev/null",
        ]);
        let text = pulse_testkit::text(&run);
        assert!(run.status.success(), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("momentum "))
            .unwrap_or_else(|| panic!("no summary line: {text}"))
            .to_string();
        let cost = line
            .split(" ms/call ")
            .nth(1)
            .and_then(|rest| rest.split(" failures").next())
            .unwrap_or_else(|| panic!("{line}"))
            .to_string();
        assert!(cost.contains("instructions/call (max "), "{line}");
        cost
    };
    assert_eq!(replay(), replay());
}

#[test]
fn a_call_past_its_instruction_budget_fails_as_such_and_the_counts_show() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    std::fs::write(
        &config,
        "[sandbox]\ncount_instructions = true\n[sandbox.plugin.volatility]\nmax_instructions = 100000\n",
    )
    .unwrap();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--config", config.to_str().unwrap(), "--interval", "0.5"],
    );
    let failures = r#"pulse_plugin_failures_total{plugin="volatility",kind="instructions"}"#;
    wait_for("two calls past the budget", Duration::from_secs(30), || {
        let failed = scrape(&daemon.status_url()).get(failures).copied()?;
        (failed >= 2.0).then_some(())
    });
    let metrics = scrape(&daemon.status_url());
    assert_eq!(
        value(&metrics, r#"pulse_plugin_timeouts_total{plugin="volatility"}"#),
        0.0
    );
    assert_eq!(
        value(&metrics, r#"pulse_plugin_errors_total{plugin="volatility"}"#),
        0.0,
        "a budget is its own kind, not an error"
    );
    assert!(value(&metrics, r#"pulse_plugin_instructions_total{plugin="trend"}"#) > 0.0);
    let log = daemon.log();
    assert!(
        log.contains("executed more than its budget of 100000 instructions"),
        "{log}"
    );

    let (_, list) = http_get(&format!("{}/plugins", daemon.status_url()));
    let list: Vec<Value> = serde_json::from_str(&list).unwrap();
    let trend = list.iter().find(|p| p["name"] == "trend").unwrap();
    let counts = &trend["instructions"];
    let (mean, max) = (counts["mean"].as_f64().unwrap(), counts["max"].as_u64().unwrap());
    assert!(mean > 1000.0 && max as f64 >= mean, "{trend}");
    assert!(counts["calls"].as_u64().unwrap() >= 2, "{trend}");
    let volatility = list.iter().find(|p| p["name"] == "volatility").unwrap();
    assert!(
        volatility["failure_kinds"]["instructions"].as_u64().unwrap() >= 2,
        "{volatility}"
    );
    // A failed call's count is partial: none is kept.
    assert!(volatility.get("instructions").is_none(), "{volatility}");
}

#[test]
fn a_budget_below_what_describe_takes_refuses_the_plugin_at_staging() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    std::fs::write(
        &config,
        "[sandbox]\ncount_instructions = true\nmax_instructions = 1000\n",
    )
    .unwrap();
    let trend = pulse_testkit::plugin_wasm("trend");
    let checked = pulse_testkit::pulse(&["check", trend.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    let text = pulse_testkit::text(&checked);
    assert!(!checked.status.success(), "{text}");
    assert!(
        text.contains("describe failed: executed more than its budget of 1000 instructions"),
        "{text}"
    );
}
