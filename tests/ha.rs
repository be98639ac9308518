//! Two daemons, one writer: an active/standby pair elected through a real etcd, writing to a
//! real memcached. Who wrote `pulse:status` tells which daemon leads: its `ha` object carries
//! the writer's id and term. The pair writes through a proxy that records every item with the
//! term in its flags, so that no test misses an older term written after a newer one; daemon
//! `a` reaches etcd through another, which can cut it off.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{http_get, plugin_dir, scrape, value, wait_for, Daemon, Memcached};
use pulse_testkit::etcd::Etcd;
use pulse_testkit::proxy::Proxy;
use pulse_testkit::written::{Writes, Written};
use serde_json::Value;

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

/// A daemon of the pair named `id`, writing to `cache` and campaigning at `etcd`, with leases of
/// `lease_s` seconds and cycles every 0.5 s.
fn member(plugins: &str, cache: &str, etcd: &str, id: &str, lease_s: &str) -> Daemon {
    Daemon::serve(
        plugins,
        cache,
        &[
            "--interval",
            "0.5",
            "--ttl",
            "5",
            "--ha-endpoints",
            etcd,
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
/// by behind it. Both write through `cache`; `a` reaches etcd through `a_to_etcd`.
struct Pair {
    memcached: Memcached,
    a: Daemon,
    b: Daemon,
    term: i64,
    /// Every item the pair wrote, in the order memcached received them.
    writes: Writes,
    etcd: Etcd,
    a_to_etcd: Proxy,
    _cache: Proxy,
    _plugins: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// A pair with leases of `lease_s` seconds.
fn pair(lease_s: &str) -> Pair {
    let serial = one_at_a_time();
    let (etcd, memcached) = (Etcd::start(), Memcached::start());
    let writes = Writes::default();
    let cache = Proxy::tapped(&memcached.addr, writes.clone());
    let a_to_etcd = Proxy::start(etcd.endpoint.trim_start_matches("http://"));
    let plugins = plugin_dir(&BUNDLED);
    let dir = plugins.path().to_str().unwrap();
    let a = member(dir, &cache.addr, &format!("http://{}", a_to_etcd.addr), "a", lease_s);
    let term = leads(&memcached, "a", Duration::from_secs(30));
    let b = member(dir, &cache.addr, &etcd.endpoint, "b", lease_s);
    wait_for("b to stand by behind a", Duration::from_secs(30), || {
        b.log().contains("ha: standby; a leads").then_some(())
    });
    Pair {
        memcached,
        a,
        b,
        term,
        writes,
        etcd,
        a_to_etcd,
        _cache: cache,
        _plugins: plugins,
        _serial: serial,
    }
}

impl Pair {
    /// Every item written carried a term no older than any written before it, and items of at
    /// least `terms` terms were written: readers never saw a term go back.
    fn terms_only_went_up(&self, terms: usize) {
        if let Some((at, item, newer)) = self.writes.first_going_back() {
            panic!(
                "item {at} of the pair's writes, {:?}, carries term {} after term {newer} was written",
                item.key, item.flags
            );
        }
        let seen: BTreeSet<u32> = self.writes.all().iter().map(|item| item.flags).collect();
        assert!(
            seen.len() >= terms && !seen.contains(&0),
            "items were written in terms {seen:?}, not in {terms} terms"
        );
    }
}

/// The pushes (a cycle's items, `pulse:status` last) written in `term`, whole ones only.
fn pushes(writes: &[Written], term: i64) -> Vec<Vec<&Written>> {
    let mut pushes = vec![];
    let mut push = vec![];
    for item in writes.iter().filter(|item| i64::from(item.flags) == term) {
        push.push(item);
        if item.key == pulse_keys::STATUS {
            pushes.push(std::mem::take(&mut push));
        }
    }
    pushes
}

/// Whether `breakdown` holds the analyzers' every component, on a full 61 one-minute candles.
fn whole(breakdown: &Value) -> bool {
    let finite = |analyzer: &str, names: &[&str]| {
        let components = &breakdown["analyzers"][analyzer]["components"];
        names
            .iter()
            .all(|name| components[name].as_f64().is_some_and(f64::is_finite))
            && components["candles_1m"] == 61.0
    };
    finite("trend", &["ema_fast", "ema_slow", "rsi", "h1_gap_pct"])
        && finite("volatility", &["volatility_pct", "atr_pct"])
}

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
    let (_, head, _) = common::http_response(&format!("{}/plugins", pair.b.status_url()));
    assert!(
        head.to_ascii_lowercase().contains("pulse-role: standby; leader=a"),
        "{head}"
    );
    let (_, head, _) = common::http_response(&format!("{}/plugins", pair.a.status_url()));
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
    let verified = common::pulse(&["verify", "--memcached", &memcached.addr]);
    let text = common::text(&verified);
    assert!(verified.status.success(), "{text}");
    assert!(text.contains(&format!("writer    b in term {second_term}: ")), "{text}");

    // An older leader writing after the newer one: verify fails and says so.
    b.kill();
    pair.terms_only_went_up(2);
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
}

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
