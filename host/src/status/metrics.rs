//! The daemon's Prometheus metrics: what operators graph and alert on, served at `/metrics`.
//!
//! Names follow Prometheus conventions (`pulse_` prefix, base units, `_total` on counters);
//! docs/operations.md lists them. The pipeline is the only writer; scrapes only read.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::shared::call::{CallOutcome, Failure};
use crate::shared::entry::WriterStats;
use crate::shared::market::Rejections;

/// Label pairs of one series.
type Labels = Vec<(&'static str, String)>;

/// A family of histograms that share buckets.
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Cycle durations: 0.5 ms to ~16 s.
fn cycle_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Plugin call durations: 0.1 ms to ~3.3 s (deadlines are 250 ms by default).
fn call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Every metric the daemon exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    cycle_duration: Histogram,
    cycles: Counter,
    skipped_ticks: Counter,
    last_push: Gauge<f64, AtomicU64>,
    plugin_call_duration: Histograms,
    plugin_calls: Family<Labels, Counter>,
    plugin_traps: Family<Labels, Counter>,
    plugin_timeouts: Family<Labels, Counter>,
    plugin_errors: Family<Labels, Counter>,
    plugin_failures: Family<Labels, Counter>,
    plugin_dropped: Family<Labels, Counter>,
    plugin_log_dropped_lines: Family<Labels, Counter>,
    plugin_log_dropped_bytes: Family<Labels, Counter>,
    plugin_quarantined: Family<Labels, Gauge>,
    plugin_info: Family<Labels, Gauge>,
    cache_keys: Counter,
    cache_bytes: Counter,
    cache_errors: Family<Labels, Counter>,
    cache_reconnects: Counter,
    cache_server_up: Family<Labels, Gauge>,
    source_polls: Family<Labels, Counter>,
    source_failures: Family<Labels, Counter>,
    source_rows_rejected: Family<Labels, Counter>,
    snapshot_age: Gauge<f64, AtomicU64>,
    /// The writer's totals at the last observation, to turn totals into counter increments.
    cache_seen: Mutex<WriterStats>,
    /// The plugin series published last, to remove those of unloaded plugins.
    plugins_seen: Mutex<Vec<(Labels, Labels)>>,
}

/// One loaded plugin, for `pulse_plugin_info` and `pulse_plugin_quarantined`.
pub struct PluginLabels<'a> {
    /// The plugin's name.
    pub name: &'a str,
    /// analyzer or aggregator.
    pub kind: &'static str,
    /// The version it describes itself with.
    pub version: &'a str,
    /// The SHA-256 of its file.
    pub hash: &'a str,
    /// Whether the circuit breaker holds it.
    pub quarantined: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, at zero.
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("pulse"),
            cycle_duration: cycle_histogram(),
            cycles: Counter::default(),
            skipped_ticks: Counter::default(),
            last_push: Gauge::<f64, AtomicU64>::default(),
            plugin_call_duration: Histograms::new_with_constructor(call_histogram as fn() -> Histogram),
            plugin_calls: Family::default(),
            plugin_traps: Family::default(),
            plugin_timeouts: Family::default(),
            plugin_errors: Family::default(),
            plugin_failures: Family::default(),
            plugin_dropped: Family::default(),
            plugin_log_dropped_lines: Family::default(),
            plugin_log_dropped_bytes: Family::default(),
            plugin_quarantined: Family::default(),
            plugin_info: Family::default(),
            cache_keys: Counter::default(),
            cache_bytes: Counter::default(),
            cache_errors: Family::default(),
            cache_reconnects: Counter::default(),
            cache_server_up: Family::default(),
            source_polls: Family::default(),
            source_failures: Family::default(),
            source_rows_rejected: Family::default(),
            snapshot_age: Gauge::<f64, AtomicU64>::default(),
            cache_seen: Mutex::new(WriterStats::default()),
            plugins_seen: Mutex::new(Vec::new()),
        };

        let r = &mut m.registry;
        r.register_with_unit(
            "cycle_duration",
            "Time from snapshot to the end of the cache write, per cycle",
            Unit::Seconds,
            m.cycle_duration.clone(),
        );
        r.register("cycles", "Cycles run", m.cycles.clone());
        r.register(
            "cycles_skipped",
            "Interval ticks skipped because a cycle overran its interval",
            m.skipped_ticks.clone(),
        );
        r.register_with_unit(
            "last_push_timestamp",
            "Unix time of the last cycle whose cache write fully succeeded",
            Unit::Seconds,
            m.last_push.clone(),
        );
        r.register_with_unit(
            "plugin_call_duration",
            "Duration of plugin calls (fresh instance, init and the call)",
            Unit::Seconds,
            m.plugin_call_duration.clone(),
        );
        r.register("plugin_calls", "Plugin calls made", m.plugin_calls.clone());
        r.register(
            "plugin_traps",
            "Plugin calls that trapped (panic, abort, memory cap)",
            m.plugin_traps.clone(),
        );
        r.register(
            "plugin_timeouts",
            "Plugin calls stopped at their deadline",
            m.plugin_timeouts.clone(),
        );
        r.register(
            "plugin_errors",
            "Plugin calls that returned an error or output the host refused",
            m.plugin_errors.clone(),
        );
        r.register(
            "plugin_failures",
            "Failed plugin calls by kind: timeout, trap, memory_cap, over_limit, host_limit, error",
            m.plugin_failures.clone(),
        );
        r.register(
            "plugin_dropped_outputs",
            "Verdicts or cache entries dropped by the host's output checks",
            m.plugin_dropped.clone(),
        );
        r.register(
            "plugin_log_dropped_lines",
            "Lines a plugin wrote to the log (log calls, stdout, stderr) dropped over its log budget",
            m.plugin_log_dropped_lines.clone(),
        );
        r.register_with_unit(
            "plugin_log_dropped",
            "Bytes of the log lines dropped over a plugin's log budget",
            Unit::Bytes,
            m.plugin_log_dropped_bytes.clone(),
        );
        r.register(
            "plugin_quarantined",
            "1 while the circuit breaker holds the plugin, else 0",
            m.plugin_quarantined.clone(),
        );
        r.register(
            "plugin_info",
            "Loaded plugins (value 1), labelled with kind, version and content hash",
            m.plugin_info.clone(),
        );
        r.register("cache_keys_written", "Cache entries stored", m.cache_keys.clone());
        r.register_with_unit(
            "cache_written",
            "Value bytes of the cache entries stored",
            Unit::Bytes,
            m.cache_bytes.clone(),
        );
        r.register(
            "cache_write_errors",
            "Cache entries not stored, by kind of error",
            m.cache_errors.clone(),
        );
        r.register(
            "cache_reconnects",
            "Reconnections to memcached servers",
            m.cache_reconnects.clone(),
        );
        r.register(
            "cache_server_up",
            "1 while the memcached server accepts writes, else 0",
            m.cache_server_up.clone(),
        );
        r.register("source_polls", "Market snapshots requested", m.source_polls.clone());
        r.register(
            "source_failures",
            "Market snapshots that failed (request, parse, or no usable row)",
            m.source_failures.clone(),
        );
        r.register(
            "source_rows_rejected",
            "Market rows dropped by validation, by reason",
            m.source_rows_rejected.clone(),
        );
        r.register_with_unit(
            "snapshot_age",
            "Age of the last good market snapshot (0 when the last cycle's was fresh; time since start when there was none)",
            Unit::Seconds,
            m.snapshot_age.clone(),
        );
        m
    }

    /// The metrics in the text exposition format (OpenMetrics, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// Records a finished cycle.
    pub fn cycle(&self, seconds: f64) {
        self.cycles.inc();
        self.cycle_duration.observe(seconds);
    }

    /// Counts interval ticks skipped because a cycle overran.
    pub fn skipped(&self, ticks: u64) {
        self.skipped_ticks.inc_by(ticks);
    }

    /// Records a cycle whose cache write fully succeeded, at `unix_ms`.
    pub fn pushed(&self, unix_ms: i64) {
        self.last_push.set(unix_ms as f64 / 1000.0);
    }

    /// Records one plugin call.
    pub fn call(&self, plugin: &str, kind: &'static str, outcome: &CallOutcome) {
        let labels = vec![("plugin", plugin.to_string())];
        let with_kind = vec![("plugin", plugin.to_string()), ("kind", kind.to_string())];
        self.plugin_call_duration
            .get_or_create(&with_kind)
            .observe(outcome.duration_ms / 1000.0);
        self.plugin_calls.get_or_create(&labels).inc();
        // Every failure series exists from the first call, at 0, so rate() sees its start.
        // The three older families group the kinds as `pulse:status` does.
        for (family, kinds) in [
            (
                &self.plugin_traps,
                &[Failure::Trap, Failure::MemoryCap, Failure::HostLimit][..],
            ),
            (&self.plugin_timeouts, &[Failure::Timeout][..]),
            (&self.plugin_errors, &[Failure::Error, Failure::OverLimit][..]),
        ] {
            let counter = family.get_or_create(&labels);
            if outcome.failure.is_some_and(|f| kinds.contains(&f)) {
                counter.inc();
            }
        }
        self.plugin_log_dropped_lines
            .get_or_create(&labels)
            .inc_by(outcome.log_dropped_lines);
        self.plugin_log_dropped_bytes
            .get_or_create(&labels)
            .inc_by(outcome.log_dropped_bytes);
        for kind in Failure::ALL {
            let counter = self.plugin_failures.get_or_create(&vec![
                ("plugin", plugin.to_string()),
                ("kind", kind.label().to_string()),
            ]);
            if outcome.failure == Some(kind) {
                counter.inc();
            }
        }
    }

    /// Counts outputs of `plugin` dropped by the host's checks.
    pub fn dropped(&self, plugin: &str, count: usize) {
        if count > 0 {
            self.plugin_dropped
                .get_or_create(&vec![("plugin", plugin.to_string())])
                .inc_by(count as u64);
        }
    }

    /// Publishes the loaded plugins; series of plugins (or versions) no longer loaded are
    /// removed, without a moment in which a scrape would see none.
    pub fn plugins<'a>(&self, plugins: impl Iterator<Item = PluginLabels<'a>>) {
        let mut now = Vec::new();
        for p in plugins {
            let info = vec![
                ("plugin", p.name.to_string()),
                ("kind", p.kind.to_string()),
                ("version", p.version.to_string()),
                ("hash", p.hash.to_string()),
            ];
            let name = vec![("plugin", p.name.to_string())];
            self.plugin_info.get_or_create(&info).set(1);
            self.plugin_quarantined
                .get_or_create(&name)
                .set(i64::from(p.quarantined));
            now.push((info, name));
        }
        let mut seen = self.plugins_seen.lock().unwrap_or_else(|e| e.into_inner());
        for (info, name) in seen.iter() {
            if !now.iter().any(|(i, _)| i == info) {
                self.plugin_info.remove(info);
            }
            if !now.iter().any(|(_, n)| n == name) {
                self.plugin_quarantined.remove(name);
            }
        }
        *seen = now;
    }

    /// Records a snapshot request of `source` and whether it failed.
    pub fn poll(&self, source: &str, failed: bool) {
        let labels = vec![("source", source.to_string())];
        self.source_polls.get_or_create(&labels).inc();
        let failures = self.source_failures.get_or_create(&labels);
        if failed {
            failures.inc();
        }
    }

    /// Counts market rows dropped by validation, by reason.
    pub fn rejected(&self, rejected: &Rejections) {
        for (reason, count) in rejected {
            self.source_rows_rejected
                .get_or_create(&vec![("reason", (*reason).to_string())])
                .inc_by(*count as u64);
        }
    }

    /// Sets the age of the last good snapshot: 0 when the cycle's was fresh.
    pub fn snapshot_age(&self, seconds: f64) {
        self.snapshot_age.set(seconds);
    }

    /// Brings the cache series up to the writer's totals and server states.
    pub fn cache(&self, now: &WriterStats) {
        let mut seen = self.cache_seen.lock().unwrap_or_else(|e| e.into_inner());
        self.cache_keys
            .inc_by(now.keys_written.saturating_sub(seen.keys_written));
        self.cache_bytes
            .inc_by(now.bytes_written.saturating_sub(seen.bytes_written));
        self.cache_reconnects
            .inc_by(now.reconnects.saturating_sub(seen.reconnects));
        for (kind, total) in &now.errors {
            let before = seen.errors.get(kind).copied().unwrap_or(0);
            self.cache_errors
                .get_or_create(&vec![("kind", (*kind).to_string())])
                .inc_by(total.saturating_sub(before));
        }
        for server in &now.servers {
            self.cache_server_up
                .get_or_create(&vec![("server", server.addr.clone())])
                .set(i64::from(server.up));
        }
        *seen = now.clone();
    }
}
