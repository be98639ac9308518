//! Promotion on evidence with a pair: both daemons score their shadow (a standby analyses as
//! the leader does), and `pulse promote --if-better` given both addresses reads the leader's.

use std::path::Path;
use std::time::Duration;

use pulse_testkit::etcd::Etcd;
use serde_json::Value;

use crate::pair::{leads, one_at_a_time, scoring_config, shadowing_plugins};
use pulse_testkit::{wait_for, Daemon, Memcached};

/// A member of the pair named `id`, scoring at 2 s with a sample a second.
fn member(plugins: &Path, config: &Path, memcached: &Memcached, etcd: &Etcd, id: &str) -> Daemon {
    Daemon::serve(
        plugins.to_str().unwrap(),
        &memcached.addr,
        &[
            "--config",
            config.to_str().unwrap(),
            "--interval",
            "0.5",
            "--ttl",
            "5",
            "--ha-endpoints",
            &etcd.endpoint,
            "--ha-id",
            id,
            "--ha-lease-ttl",
            "2",
        ],
    )
}

/// `/shadow/trend` of `daemon` once it holds paired figures, with its `Pulse-Role` header.
fn scored(daemon: &Daemon) -> String {
    let url = format!("{}/shadow/trend", daemon.status_url());
    wait_for("paired figures", Duration::from_secs(60), || {
        let (code, headers, body) = pulse_testkit::http_response(&url);
        let shadow: Value = serde_json::from_str(&body).ok()?;
        let samples = shadow["evaluation"][0]["rank_ic_difference"]["samples"].as_u64()?;
        let role = headers
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("pulse-role: ").map(str::to_string))?;
        (code == 200 && samples >= 1).then_some(role)
    })
}

#[test]
fn the_gate_reads_the_leaders_figures_whichever_address_comes_first() {
    let _serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let (plugins, dir) = (shadowing_plugins(), tempfile::tempdir().unwrap());
    let config = scoring_config(dir.path());
    let a = member(plugins.path(), &config, &memcached, &etcd, "a");
    leads(&memcached, "a", Duration::from_secs(30));
    let b = member(plugins.path(), &config, &memcached, &etcd, "b");
    assert!(scored(&a).starts_with("leader"));
    assert!(scored(&b).starts_with("standby"));

    // The standby's address first: the leader's figures are read all the same. Too few samples
    // for the gate, so nothing is renamed.
    let status = format!("{},{}", b.status_url(), a.status_url());
    let gate = pulse_testkit::pulse(&[
        "promote",
        "trend",
        "--plugins",
        plugins.path().to_str().unwrap(),
        "--if-better",
        "--status",
        &status,
        "--horizon",
        "2s",
        "--min-samples",
        "100000",
    ]);
    let text = pulse_testkit::text(&gate);
    assert!(!gate.status.success(), "{text}");
    assert!(
        text.contains(&format!("figures from {}/shadow/trend", a.status_url())),
        "{text}"
    );
    assert!(text.contains("at least 100000 are needed"), "{text}");
    assert!(plugins.path().join("shadow/trend.wasm").is_file());
}
