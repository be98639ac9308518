//! Runs every benchmark scenario once at tiny sizes, so `pulse-bench` cannot rot. It measures
//! nothing: the figures are in BENCHMARKS.md, from full runs.

use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn every_scenario_runs_and_reports_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_pulse-bench"))
        .arg("--quick")
        .output()
        .expect("run pulse-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pulse-bench --quick failed:\n{stderr}");
    let results: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let scenarios: BTreeSet<&str> = results.iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(
        scenarios,
        BTreeSet::from([
            "cycle",
            "wasm-vs-native",
            "many-plugins",
            "alternative",
            "cache-write",
            "swap",
            "cold-start",
            "faults",
            "first-whole",
            "failover",
            "evaluation",
            "signal-flips",
            "streaming",
            "traces",
            "warm-state"
        ])
    );
    for r in &results {
        assert!(r["machine"]["cores"].as_u64().unwrap() >= 1, "{r}");
    }
    let cycle = results.iter().find(|r| r["scenario"] == "cycle").unwrap();
    assert!(cycle["cycle_ms_p99"].as_f64().unwrap() > 0.0 && cycle["keys_written_per_cycle"].as_f64().unwrap() > 30.0);
    // The steps come from the cycle's spans: each one that ran took time.
    for step in ["cycle", "snapshot", "analyzers", "aggregators", "write"] {
        assert!(
            cycle["steps"][step]["ms_p50"].as_f64().unwrap() > 0.0,
            "{step}: {cycle}"
        );
    }
    let native = results.iter().find(|r| r["scenario"] == "wasm-vs-native").unwrap();
    assert!(native["ratio_wasm_to_native"].as_f64().unwrap() > 0.0, "{native}");
    assert!(native["ratio_analysis_wasm_to_native"].as_f64().is_some(), "{native}");
    assert!(native["native_analysis_ms_p50"].as_f64().unwrap() > 0.0, "{native}");
    let many = results.iter().find(|r| r["scenario"] == "many-plugins").unwrap();
    assert_eq!(many["plugins_served"], 22, "20 analyzers and 2 aggregators: {many}");
    assert!(many["keys_written_per_cycle"].as_f64().unwrap() > 30.0, "{many}");
    assert_eq!(many["entries_dropped_per_cycle"], 0.0, "{many}");
    assert!(many["steps"]["aggregators"]["ms_p99"].as_f64().unwrap() > 0.0, "{many}");
    let alternative = results.iter().find(|r| r["scenario"] == "alternative").unwrap();
    assert!(
        alternative["python_keys_written_per_cycle"].as_f64().unwrap() > 30.0
            && alternative["ratio_python_to_pulse_p50"].as_f64().unwrap() > 0.0,
        "{alternative}"
    );
    assert_eq!(results.iter().filter(|r| r["scenario"] == "cold-start").count(), 2);
    let collectors: BTreeSet<&str> = results
        .iter()
        .filter(|r| r["scenario"] == "traces")
        .map(|r| r["collector"].as_str().unwrap())
        .collect();
    assert_eq!(collectors, BTreeSet::from(["none", "up", "hanging"]));
    let evaluation = results.iter().find(|r| r["scenario"] == "evaluation").unwrap();
    assert!(evaluation["samples_scored_1m"].as_u64().unwrap() >= 2, "{evaluation}");
    for signal in ["KILL", "TERM"] {
        let failover = results
            .iter()
            .find(|r| r["scenario"] == "failover" && r["signal"] == signal)
            .unwrap_or_else(|| panic!("no failover on SIG{signal}"));
        assert!(failover["max_ms"].as_f64().unwrap() > 0.0, "{failover}");
    }
    let state = results.iter().find(|r| r["scenario"] == "warm-state").unwrap();
    assert!(state["file_bytes"].as_f64().unwrap() > 0.0, "{state}");
    assert!(state["saves"][0]["write_ms"].as_f64().unwrap() > 0.0, "{state}");
    assert!(
        state["warm_load_ms"].as_f64().is_some(),
        "the restart took the file back: {state}"
    );
    let warm = results
        .iter()
        .find(|r| r["scenario"] == "first-whole" && r["start"] == "warm")
        .expect("a warm first-whole run");
    assert_eq!(
        warm["cycle_of_first_whole_push"], 1,
        "a warm restart is whole at once: {warm}"
    );
    let faults = results.iter().find(|r| r["scenario"] == "faults").unwrap();
    assert!(faults["fault_fixtures"].as_u64().unwrap() >= 19, "{faults}");
    assert!(
        faults["peak_rss_bytes"].as_u64().unwrap() > 0 && faults["cycles"].as_u64().unwrap() >= 2,
        "{faults}"
    );
}
