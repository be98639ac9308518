//! A pair of daemons and what they wrote: the helpers every HA test shares.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pulse_testkit::etcd::Etcd;
use pulse_testkit::proxy::Proxy;
use pulse_testkit::written::{Writes, Written};
use serde_json::Value;

use pulse_testkit::{fixture_wasm, plugin_dir, wait_for, Daemon, Memcached};

/// The bundled plugins, which every daemon of a pair serves.
pub const BUNDLED: [&str; 3] = ["trend", "volatility", "dashboard"];

/// The bundled plugins with a second `trend` (`trend_shifted`) in `shadow/`.
pub fn shadowing_plugins() -> tempfile::TempDir {
    let plugins = plugin_dir(&BUNDLED);
    std::fs::create_dir(plugins.path().join("shadow")).unwrap();
    std::fs::copy(fixture_wasm("trend_shifted"), plugins.path().join("shadow/trend.wasm")).unwrap();
    plugins
}

/// A config in `dir` that scores verdicts at a 2 s horizon, sampling every second.
pub fn scoring_config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("pulse.toml");
    std::fs::write(
        &config,
        "[evaluation]\nhorizons = [\"2s\"]\nsample_every = \"1s\"\ntolerance = \"1s\"\n",
    )
    .unwrap();
    config
}

/// One pair at a time: each test runs an etcd, a memcached and two daemons, and their timing
/// bounds assume the two cores are not shared with another pair.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The id, role and term in `pulse:status`, and its cycle.
pub fn writer(memcached: &Memcached) -> Option<(String, String, i64, u64)> {
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
pub fn member(plugins: &str, cache: &str, etcd: &str, id: &str, lease_s: &str) -> Daemon {
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
pub fn leads(memcached: &Memcached, id: &str, within: Duration) -> i64 {
    wait_for(&format!("{id} to write as leader"), within, || {
        writer(memcached)
            .filter(|(who, role, ..)| who == id && role == "leader")
            .map(|(_, _, term, _)| term)
    })
}

/// Watches `pulse:status` for `period`: only `id` writes it, and its cycles only go up.
pub fn only_writer_for(memcached: &Memcached, id: &str, period: Duration) {
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
pub struct Pair {
    pub memcached: Memcached,
    pub a: Daemon,
    pub b: Daemon,
    pub term: i64,
    /// Every item the pair wrote, in the order memcached received them.
    pub writes: Writes,
    pub etcd: Etcd,
    pub a_to_etcd: Proxy,
    _cache: Proxy,
    _plugins: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// A pair with leases of `lease_s` seconds.
pub fn pair(lease_s: &str) -> Pair {
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
    pub fn terms_only_went_up(&self, terms: usize) {
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
pub fn pushes(writes: &[Written], term: i64) -> Vec<Vec<&Written>> {
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
pub fn whole(breakdown: &Value) -> bool {
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
