//! Two daemons, one writer: an active/standby pair elected through a real etcd, writing to a
//! real memcached. Who wrote `pulse:status` tells which daemon leads: its `ha` object carries
//! the writer's id and term.

mod common;

use std::time::{Duration, Instant};

use common::etcd::Etcd;
use common::{http_get, plugin_dir, scrape, value, wait_for, Daemon, Memcached};

const BUNDLED: [&str; 3] = ["trend", "volatility", "dashboard"];

/// One pair at a time: each test runs an etcd, a memcached and two daemons, and their timing
/// bounds assume the two cores are not shared with another pair.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The id, role and term in `pulse:status`, and its cycle.
fn writer(memcached: &Memcached) -> Option<(String, String, i64, u64)> {
    let bytes = memcached.get("pulse:status")?;
    let status: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let ha = &status["ha"];
    Some((
        ha["id"].as_str()?.to_string(),
        ha["role"].as_str()?.to_string(),
        ha["term"].as_i64()?,
        status["cycle"].as_u64()?,
    ))
}

/// A daemon of the pair named `id`, with leases of `lease_s` seconds and cycles every 0.5 s.
fn member(plugins: &str, memcached: &Memcached, etcd: &Etcd, id: &str, lease_s: &str) -> Daemon {
    Daemon::serve(
        plugins,
        &memcached.addr,
        &[
            "--interval",
            "0.5",
            "--ttl",
            "5",
            "--ha-endpoints",
            &etcd.endpoint,
            "--ha-id",
            id,
            "--ha-lease-ttl",
            lease_s,
        ],
    )
}

/// Waits until `id` writes `pulse:status` as leader; returns its term.
fn leads(memcached: &Memcached, id: &str, within: Duration) -> i64 {
    wait_for(&format!("{id} to write as leader"), within, || {
        writer(memcached)
            .filter(|(who, role, ..)| who == id && role == "leader")
            .map(|(_, _, term, _)| term)
    })
}

/// Watches `pulse:status` for `period`: only `id` writes it, and its cycles only go up.
fn only_writer_for(memcached: &Memcached, id: &str, period: Duration) {
    let end = Instant::now() + period;
    let mut last_cycle = 0;
    while Instant::now() < end {
        let (who, role, _, cycle) = writer(memcached).expect("pulse:status with an ha object");
        assert_eq!(
            (who.as_str(), role.as_str()),
            (id, "leader"),
            "another daemon wrote pulse:status"
        );
        assert!(
            cycle >= last_cycle,
            "the cycle went back from {last_cycle} to {cycle}: two writers"
        );
        last_cycle = cycle;
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two daemons of one deployment: `a`, started first and leading in `term`, and `b`, standing
/// by behind it.
struct Pair {
    memcached: Memcached,
    a: Daemon,
    b: Daemon,
    term: i64,
    _etcd: Etcd,
    _plugins: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// A pair with leases of `lease_s` seconds.
fn pair(lease_s: &str) -> Pair {
    let serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let plugins = plugin_dir(&BUNDLED);
    let dir = plugins.path().to_str().unwrap();
    let a = member(dir, &memcached, &etcd, "a", lease_s);
    let term = leads(&memcached, "a", Duration::from_secs(30));
    let b = member(dir, &memcached, &etcd, "b", lease_s);
    wait_for("b to stand by behind a", Duration::from_secs(30), || {
        b.log().contains("ha: standby; a leads").then_some(())
    });
    Pair {
        memcached,
        a,
        b,
        term,
        _etcd: etcd,
        _plugins: plugins,
        _serial: serial,
    }
}

#[test]
fn one_of_two_daemons_writes_and_the_other_takes_over_when_it_is_killed() {
    // Bound whole: fields left out of a pattern would be dropped (etcd stopped) at once.
    let Pair {
        memcached,
        mut a,
        b,
        term: first_term,
        _etcd,
        _plugins,
        _serial,
    } = pair("2");
    only_writer_for(&memcached, "a", Duration::from_secs(3));
    let (code, health) = http_get(&format!("{}/healthz", b.status_url()));
    assert_eq!(code, 200, "a standby that runs its cycles is healthy: {health}");
    assert!(health.contains("standby, ready to take over; a leads"), "{health}");
    assert_eq!(value(&scrape(&a.status_url()), "pulse_ha_leader"), 1.0);
    assert_eq!(value(&scrape(&b.status_url()), "pulse_ha_leader"), 0.0);
    let (_, head, _) = common::http_response(&format!("{}/plugins", b.status_url()));
    assert!(
        head.to_ascii_lowercase().contains("pulse-role: standby; leader=a"),
        "{head}"
    );
    let (_, head, _) = common::http_response(&format!("{}/plugins", a.status_url()));
    assert!(
        head.contains(&format!("pulse-role: leader; term={first_term}")),
        "{head}"
    );

    a.kill();
    let killed = Instant::now();
    let second_term = leads(&memcached, "b", Duration::from_secs(15));
    let took = killed.elapsed();
    // The lease (2 s) lapses, b is elected, and its next cycle (0.5 s) writes; 1.5 s of slack
    // for a loaded machine.
    assert!(took < Duration::from_secs(4), "b took over only after {took:?}");
    assert!(second_term > first_term, "term {second_term} after {first_term}");
    assert!(b
        .log()
        .contains(&format!("ha: leader of etcd election \"pulse\" in term {second_term}")));
    let metrics = scrape(&b.status_url());
    assert_eq!(value(&metrics, "pulse_ha_leader"), 1.0);
    assert_eq!(value(&metrics, "pulse_ha_term"), second_term as f64);
    assert!(value(&metrics, "pulse_ha_transitions_total") >= 2.0, "{metrics:?}");

    // Every item carries its writer's term in its client flags, and verify names the writer.
    wait_for("b's term on the dashboard keys", Duration::from_secs(5), || {
        (memcached.flags(pulse_keys::OVERVIEW) == Some(second_term as u32)).then_some(())
    });
    assert_eq!(memcached.flags("pulse:status"), Some(second_term as u32));
    let verified = common::pulse(&["verify", "--memcached", &memcached.addr]);
    let text = common::text(&verified);
    assert!(verified.status.success(), "{text}");
    assert!(text.contains(&format!("writer    b in term {second_term}: ")), "{text}");

    // An older leader writing after the newer one: verify fails and says so.
    let mut b = b;
    b.kill();
    let forged = serde_json::json!({
        "cycle": 1, "timestamp_ms": common::unix_ms(), "source": "simulated", "ttl": 5,
        "plugins": [], "ha": {"id": "a", "term": first_term, "role": "leader"}
    });
    memcached.set("pulse:status", forged.to_string().as_bytes(), first_term as u32, 5);
    let verified = common::pulse(&["verify", "--memcached", &memcached.addr]);
    let text = common::text(&verified);
    assert!(!verified.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "in a later term ({second_term}) than pulse:status (term {first_term}, by a)"
        )),
        "{text}"
    );
}

#[test]
fn a_leader_stopped_cleanly_hands_over_at_once() {
    // A long lease: a takeover well inside it shows that the leader resigned.
    let Pair {
        memcached,
        mut a,
        b: _b,
        _etcd,
        _plugins,
        _serial,
        ..
    } = pair("20");
    let stopping = Instant::now();
    assert!(a.stop(), "a did not exit cleanly:\n{}", a.log());
    leads(&memcached, "b", Duration::from_secs(10));
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "b took over only after {took:?} of a 20 s lease"
    );
    assert!(a.log().contains("ha: resigned; a standby takes over"), "{}", a.log());
}

#[test]
fn a_leader_frozen_past_its_lease_writes_nothing_when_it_wakes() {
    let Pair {
        memcached,
        a,
        b: _b,
        _etcd,
        _plugins,
        _serial,
        ..
    } = pair("2");
    // Frozen as by a VM pause: b takes over once a's lease lapses.
    a.signal("STOP");
    let frozen = Instant::now();
    leads(&memcached, "b", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(4).saturating_sub(frozen.elapsed()));
    a.signal("CONT");
    // a wakes with its cycle due and its lease long gone: not one status of its own may land.
    only_writer_for(&memcached, "b", Duration::from_secs(3));
    wait_for("a to learn it is standby", Duration::from_secs(10), || {
        a.log().contains("ha: standby, no longer leader").then_some(())
    });
}

#[test]
fn with_etcd_down_no_daemon_writes_and_one_leads_again_when_it_returns() {
    let Pair {
        memcached,
        a: _a,
        b: _b,
        term: first_term,
        mut _etcd,
        _plugins,
        _serial,
    } = pair("2");
    _etcd.kill();
    // The leader stops writing once its lease can no longer be proven (at most the 2 s lease);
    // then nothing moves: at most one writer means none while no lease can be proven.
    std::thread::sleep(Duration::from_millis(2500));
    let stalled = writer(&memcached).map(|(.., cycle)| cycle);
    std::thread::sleep(Duration::from_secs(2));
    // The status may have expired meanwhile (its TTL is 5 s), but no write may have renewed it.
    let still = writer(&memcached).map(|(.., cycle)| cycle);
    assert!(
        still.is_none() || still == stalled,
        "a daemon wrote while etcd was down: {stalled:?} then {still:?}"
    );
    let stalled = stalled.unwrap_or(0);

    _etcd.restart();
    let (who, term) = wait_for("a leader to write again", Duration::from_secs(30), || {
        writer(&memcached)
            .filter(|(_, role, _, cycle)| role == "leader" && *cycle > stalled)
            .map(|(who, _, term, _)| (who, term))
    });
    assert!(term > first_term, "{who} leads in term {term}, not after {first_term}");
}

#[test]
fn a_standby_whose_plugins_differ_from_the_leaders_says_so() {
    let _serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let (full, fewer) = (plugin_dir(&BUNDLED), plugin_dir(&["trend", "dashboard"]));
    let _a = member(full.path().to_str().unwrap(), &memcached, &etcd, "a", "2");
    leads(&memcached, "a", Duration::from_secs(30));
    let b = member(fewer.path().to_str().unwrap(), &memcached, &etcd, "b", "2");
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
