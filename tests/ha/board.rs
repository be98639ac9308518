//! The Grafana board (`examples/grafana/pulse.json`) against a daemon that shows every family
//! it charts: leading a pair's etcd, shadowing and scoring a second `trend`, and streaming from
//! a loopback Bybit. Every metric its queries name must be on that daemon's `/metrics`, so a
//! renamed or removed series fails here rather than as an empty panel.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pulse_testkit::etcd::Etcd;
use pulse_testkit::exchange::{Dialect, LoopbackExchange};
use pulse_testkit::{http_get, repo_root, Daemon, Memcached};
use serde_json::Value;

use crate::pair::{leads, one_at_a_time, scoring_config, shadowing_plugins};

/// Every `expr` in the board's panels, and whether each panel reads the board's one data source.
fn queries(board: &Value) -> Vec<String> {
    let mut exprs = Vec::new();
    for panel in board["panels"].as_array().expect("the board has panels") {
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "panel {:?} reads another data source than the one the import asks for",
            panel["title"]
        );
        let targets = panel["targets"].as_array().expect("a panel has targets");
        assert!(!targets.is_empty(), "panel {:?} queries nothing", panel["title"]);
        exprs.extend(
            targets
                .iter()
                .map(|t| t["expr"].as_str().expect("a target's expr").to_string()),
        );
    }
    exprs
}

/// The metric names (`pulse_…`) in `expr`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("pulse_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

/// The series names `/metrics` holds: each sample's, and each declared family's with the
/// suffixes its samples take, so a family with no series yet (no write error so far) counts.
fn exported(metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let mut words = declared.split_whitespace();
            let (Some(family), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{family}{s}")));
        } else if !line.starts_with('#') {
            names.extend(line.split(['{', ' ']).next().map(str::to_string));
        }
    }
    names
}

#[test]
fn every_metric_the_grafana_board_queries_is_on_a_running_daemons_metrics() {
    let _serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let exchange = LoopbackExchange::start(Dialect::Bybit, 40);
    let (plugins, dir) = (shadowing_plugins(), tempfile::tempdir().unwrap());
    let config = scoring_config(dir.path());
    let mut args: Vec<String> = exchange.args();
    args.extend(
        [
            "--config",
            config.to_str().unwrap(),
            "--interval",
            "0.5",
            "--ha-endpoints",
            &etcd.endpoint,
            "--ha-id",
            "a",
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let daemon = Daemon::serve(plugins.path().to_str().unwrap(), &memcached.addr, &args);
    leads(&memcached, "a", Duration::from_secs(30));

    let board: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("examples/grafana/pulse.json")).unwrap())
            .expect("the board is JSON");
    assert!(
        board["__inputs"][0]["name"] == "DS_PROMETHEUS",
        "the import asks for no Prometheus"
    );
    let wanted: BTreeSet<String> = queries(&board).iter().flat_map(|e| metric_names(e)).collect();
    // The board charts what the issue names: cycles, plugins, cache, the pair, shadows, scores,
    // and the trace export.
    for family in [
        "pulse_cycle_duration_seconds_bucket",
        "pulse_cycles_skipped_total",
        "pulse_plugin_calls_total",
        "pulse_plugin_failures_total",
        "pulse_cache_keys_written_total",
        "pulse_cache_server_up",
        "pulse_ha_leader",
        "pulse_ha_term",
        "pulse_shadow_agreement_ratio",
        "pulse_evaluation_rank_ic",
        "pulse_trace_spans_dropped_total",
    ] {
        assert!(wanted.contains(family), "the board does not chart {family}");
    }
    // Scores and shadow figures come once a horizon has passed: wait for the last to appear.
    let url = format!("{}/metrics", daemon.status_url());
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let (_, metrics) = http_get(&url);
        let exported = exported(&metrics);
        let missing: Vec<&String> = wanted.iter().filter(|n| !exported.contains(*n)).collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        missing.is_empty(),
        "the board queries {missing:?}, which the daemon's /metrics does not have"
    );
}
