//! Failover: the standby takes over when the leader is killed, stops, freezes or loses etcd,
//! and no older term is ever written after a newer one.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pulse_testkit::written::Written;
use serde_json::Value;

use crate::pair::{leads, only_writer_for, pair, pushes, whole, writer};
use pulse_testkit::{http_get, scrape, value, wait_for};

#[test]
fn one_of_two_daemons_writes_and_the_other_takes_over_when_it_is_killed() {
    let mut pair = pair("2");
    let (memcached, first_term) = (&pair.memcached, pair.term);
    only_writer_for(memcached, "a", Duration::from_secs(3));
    let (code, health) = http_get(&format!("{}/healthz", pair.b.status_url()));
    assert_eq!(code, 200, "a standby that runs its cycles is healthy: {health}");
    assert!(health.contains("standby, ready to take over; a leads"), "{health}");
    assert_eq!(value(&scrape(&pair.a.status_url()), "pulse_ha_leader"), 1.0);
    assert_eq!(value(&scrape(&pair.b.status_url()), "pulse_ha_leader"), 0.0);
    let (_, head, _) = pulse_testkit::http_response(&format!("{}/plugins", pair.b.status_url()));
    assert!(
        head.to_ascii_lowercase().contains("pulse-role: standby; leader=a"),
        "{head}"
    );
    let (_, head, _) = pulse_testkit::http_response(&format!("{}/plugins", pair.a.status_url()));
    assert!(
        head.contains(&format!("pulse-role: leader; term={first_term}")),
        "{head}"
    );

    pair.a.kill();
    let killed = Instant::now();
    let second_term = leads(memcached, "b", Duration::from_secs(15));
    let took = killed.elapsed();
    // The lease (2 s) lapses, b is elected, and its next cycle (0.5 s) writes; 1.5 s of slack
    // for a loaded machine.
    assert!(took < Duration::from_secs(4), "b took over only after {took:?}");
    assert!(second_term > first_term, "term {second_term} after {first_term}");
    let b = &mut pair.b;
    assert!(b
        .log()
        .contains(&format!("ha: leader of etcd election \"pulse\" in term {second_term}")));
    let metrics = scrape(&b.status_url());
    assert_eq!(value(&metrics, "pulse_ha_leader"), 1.0);
    assert_eq!(value(&metrics, "pulse_ha_term"), second_term as f64);
    assert!(value(&metrics, "pulse_ha_transitions_total") >= 2.0, "{metrics:?}");

    // b's first push as leader is as whole as a's last: every key, every analysis on full
    // candles, from the history b kept while standing by.
    let writes = pair.writes.all();
    let last = pushes(&writes, first_term).pop().expect("a whole push of a's");
    let first = pushes(&writes, second_term).into_iter().next().expect("a push of b's");
    let keys = |push: &[&Written]| push.iter().map(|item| item.key.clone()).collect::<BTreeSet<_>>();
    let missing: Vec<String> = keys(&last).difference(&keys(&first)).cloned().collect();
    assert!(missing.is_empty(), "b's first push lacks {missing:?}");
    let breakdowns: Vec<&&Written> = first
        .iter()
        .filter(|item| item.key.starts_with("analysis:breakdown:"))
        .collect();
    assert!(
        breakdowns.len() >= 10,
        "{} breakdowns in b's first push",
        breakdowns.len()
    );
    for item in breakdowns {
        let breakdown: Value = serde_json::from_slice(&item.value).unwrap();
        assert!(whole(&breakdown), "{} in b's first push: {breakdown}", item.key);
    }
    let status: Value = serde_json::from_slice(&first.last().unwrap().value).unwrap();
    assert!(
        status["cycle"].as_u64() > Some(2),
        "b ran its cycles standing by: {status}"
    );

    // Every item carries its writer's term in its client flags, and verify names the writer.
    assert_eq!(memcached.flags(pulse_keys::OVERVIEW), Some(second_term as u32));
    assert_eq!(memcached.flags("pulse:status"), Some(second_term as u32));
    let verified = pulse_testkit::pulse(&["verify", "--memcached", &memcached.addr]);
    let text = pulse_testkit::text(&verified);
    assert!(verified.status.success(), "{text}");
    assert!(text.contains(&format!("writer    b in term {second_term}: ")), "{text}");

    // An older leader writing after the newer one: verify fails and says so.
    b.kill();
    pair.terms_only_went_up(2);
    let forged = serde_json::json!({
        "cycle": 1, "timestamp_ms": pulse_testkit::unix_ms(), "source": "simulated", "ttl": 5,
        "plugins": [], "ha": {"id": "a", "term": first_term, "role": "leader"}
    });
    memcached.set("pulse:status", forged.to_string().as_bytes(), first_term as u32, 5);
    let verified = pulse_testkit::pulse(&["verify", "--memcached", &memcached.addr]);
    let text = pulse_testkit::text(&verified);
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
    let mut pair = pair("20");
    let stopping = Instant::now();
    assert!(pair.a.stop(), "a did not exit cleanly:\n{}", pair.a.log());
    leads(&pair.memcached, "b", Duration::from_secs(10));
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "b took over only after {took:?} of a 20 s lease"
    );
    assert!(
        pair.a.log().contains("ha: resigned; a standby takes over"),
        "{}",
        pair.a.log()
    );
    pair.terms_only_went_up(2);
}

#[test]
fn a_leader_frozen_past_its_lease_writes_nothing_when_it_wakes() {
    let pair = pair("2");
    // Frozen as by a VM pause: b takes over once a's lease lapses.
    pair.a.signal("STOP");
    let frozen = Instant::now();
    leads(&pair.memcached, "b", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(4).saturating_sub(frozen.elapsed()));
    pair.a.signal("CONT");
    // a wakes with its cycle due and its lease long gone: not one item of its own may land.
    only_writer_for(&pair.memcached, "b", Duration::from_secs(3));
    wait_for("a to learn it is standby", Duration::from_secs(10), || {
        pair.a.log().contains("ha: standby, no longer leader").then_some(())
    });
    pair.terms_only_went_up(2);
}

#[test]
fn a_leader_cut_off_from_etcd_stops_writing_and_the_standby_takes_over() {
    let pair = pair("2");
    // A partition between a and etcd alone: a's renewals are lost, not refused.
    pair.a_to_etcd.cut();
    let cut = Instant::now();
    let term = leads(&pair.memcached, "b", Duration::from_secs(15));
    let took = cut.elapsed();
    assert!(took < Duration::from_secs(4), "b took over only after {took:?}");
    assert!(term > pair.term, "term {term} after {}", pair.term);
    // a learns it from the lapsed renewal or from the connection's keep-alive, whichever
    // comes first; its writes stopped when its lease could no longer be proven.
    wait_for("a to step down", Duration::from_secs(10), || {
        pair.a.log().contains("ha: standby, no longer leader: ").then_some(())
    });
    // The partition heals: a finds b leading and stands by; b alone goes on writing.
    pair.a_to_etcd.heal();
    wait_for("a to stand by behind b", Duration::from_secs(30), || {
        pair.a.log().contains("ha: standby; b leads").then_some(())
    });
    only_writer_for(&pair.memcached, "b", Duration::from_secs(2));
    pair.terms_only_went_up(2);
}

#[test]
fn with_etcd_down_no_daemon_writes_and_one_leads_again_when_it_returns() {
    let mut pair = pair("2");
    let memcached = &pair.memcached;
    pair.etcd.kill();
    // The leader stops writing once its lease can no longer be proven (at most the 2 s lease);
    // then nothing moves: at most one writer means none while no lease can be proven.
    std::thread::sleep(Duration::from_millis(2500));
    let stalled = writer(memcached).map(|(.., cycle)| cycle);
    let written = pair.writes.all().len();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pair.writes.all().len(), written, "a daemon wrote while etcd was down");
    let stalled = stalled.unwrap_or(0);

    pair.etcd.restart();
    let (who, term) = wait_for("a leader to write again", Duration::from_secs(30), || {
        writer(memcached)
            .filter(|(_, role, _, cycle)| role == "leader" && *cycle > stalled)
            .map(|(who, _, term, _)| (who, term))
    });
    assert!(term > pair.term, "{who} leads in term {term}, not after {}", pair.term);
    pair.terms_only_went_up(2);
    for log in [pair.a.log(), pair.b.log()] {
        says_only_what_it_did(&log);
        // Its own key from before etcd's restart is its own, not another daemon's.
        assert!(!log.contains("this daemon's own id"), "{log}");
    }
}

/// A daemon's log speaks of pushing only while it leads, and of stepping down only after it
/// led: a standby writes nothing, and one that never led has nothing to step down from.
fn says_only_what_it_did(log: &str) {
    let mut leading = false;
    for line in log.lines() {
        if line.contains("ha: leader of") {
            leading = true;
        } else if line.contains("no longer leader") {
            assert!(leading, "stepped down without leading: {line}\n{log}");
            leading = false;
        } else if line.contains("ha: standby") || line.contains("ha: resigned") {
            leading = false;
        } else if line.contains("Pushed") {
            assert!(leading, "a standby said it pushed: {line}\n{log}");
        }
    }
}
