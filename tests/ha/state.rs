//! Plugin state with a pair: a standby analyses as the leader does, so it keeps its own state
//! from its own cycles; after a failover the new leader's stateful plugin goes on from that
//! state, never from empty.

use std::time::Duration;

use pulse_testkit::etcd::Etcd;
use pulse_testkit::{fixture_wasm, plugin_wasm, wait_for, Memcached};

use crate::pair::{leads, member, one_at_a_time, writer};

/// The calls `counter` 1.0.0 counted in `log`, in order (its line `counter 1.0.0: call N`).
fn calls(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|line| line.split_once("counter 1.0.0: call "))
        .filter_map(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

#[test]
fn after_a_failover_the_new_leaders_counter_goes_on_from_its_own_state() {
    let _serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_wasm("counter"), plugins.path().join("counter.wasm")).unwrap();
    std::fs::copy(plugin_wasm("dashboard"), plugins.path().join("dashboard.wasm")).unwrap();
    let dir = plugins.path().to_str().unwrap();
    let mut a = member(dir, &memcached.addr, &etcd.endpoint, "a", "2");
    leads(&memcached, "a", Duration::from_secs(30));
    let b = member(dir, &memcached.addr, &etcd.endpoint, "b", "2");
    // The standby counts its own cycles, writing nothing.
    wait_for("the standby's calls", Duration::from_secs(30), || {
        (calls(&b.log()).len() >= 6).then_some(())
    });
    a.kill();
    leads(&memcached, "b", Duration::from_secs(30));
    let counted_then = calls(&b.log()).len() as f64;
    // What b writes as leader (its breakdown of the cycle its status names) counts every cycle
    // b has run, standby ones included: from empty it would count from 1 again, and this
    // would time out.
    wait_for("b's counts past its standby cycles", Duration::from_secs(30), || {
        let (id, _, _, cycle) = writer(&memcached)?;
        let breakdown = memcached.json(&pulse_keys::breakdown_key("BTCUSDT"));
        let cycles = breakdown["analyzers"]["counter"]["components"]["cycles"].as_f64()?;
        let written_by_b = id == "b" && breakdown["cycle"].as_u64() == Some(cycle);
        (written_by_b && cycles == cycle as f64 && cycles > counted_then).then_some(())
    });
    // Its count runs on without a break from its first cycle as a standby.
    let counted = calls(&b.log());
    assert_eq!(counted, (1..=counted.len() as u64).collect::<Vec<_>>(), "{}", b.log());
}
