//! One strategy and two names across the pair: a standby whose plugins differ from the
//! leader's says so, and so does one given the leader's id.

use std::time::Duration;

use pulse_testkit::etcd::Etcd;

use crate::pair::{leads, member, one_at_a_time, BUNDLED};
use pulse_testkit::{http_get, plugin_dir, scrape, value, wait_for, Memcached};

#[test]
fn a_standby_whose_plugins_differ_from_the_leaders_says_so() {
    let _serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let (full, fewer) = (plugin_dir(&BUNDLED), plugin_dir(&["trend", "dashboard"]));
    let _a = member(full.path().to_str().unwrap(), &memcached.addr, &etcd.endpoint, "a", "2");
    leads(&memcached, "a", Duration::from_secs(30));
    let b = member(
        fewer.path().to_str().unwrap(),
        &memcached.addr,
        &etcd.endpoint,
        "b",
        "2",
    );
    let line = "ha: this standby's plugins differ from the leader's, so a failover would switch them: \
                volatility: here none, leader ";
    wait_for("b to report the drift", Duration::from_secs(30), || {
        b.log().contains(line).then_some(())
    });
    // The status server shows the cycle after the leader was seen.
    let health = wait_for("the drift in b's /healthz", Duration::from_secs(10), || {
        let (code, health) = http_get(&format!("{}/healthz", b.status_url()));
        (code == 200 && health.contains("its plugins differ from the leader's: volatility: here none"))
            .then_some(health)
    });
    assert!(
        health.starts_with("ok: standby, ready to take over; a leads"),
        "{health}"
    );
    wait_for("the drift in b's metrics", Duration::from_secs(10), || {
        (value(&scrape(&b.status_url()), "pulse_ha_plugin_drift") == 1.0).then_some(())
    });
    assert_eq!(
        b.log().matches("differ from the leader's").count(),
        1,
        "one line, not one a cycle"
    );
}

#[test]
fn a_standby_given_the_leaders_id_says_so() {
    let _serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let plugins = plugin_dir(&BUNDLED);
    let dir = plugins.path().to_str().unwrap();
    let _first = member(dir, &memcached.addr, &etcd.endpoint, "twin", "2");
    leads(&memcached, "twin", Duration::from_secs(30));
    let second = member(dir, &memcached.addr, &etcd.endpoint, "twin", "2");
    let line =
        "ha: the leader campaigns as \"twin\", this daemon's own id: give each daemon of the pair its own [ha] id";
    wait_for("the second twin to say so", Duration::from_secs(30), || {
        second.log().contains(line).then_some(())
    });
    assert!(second.log().contains("ha: standby; twin leads"), "{}", second.log());
}
