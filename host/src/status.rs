//! What the daemon knows about its own health, published each cycle as `pulse:status`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cache::{ValidEntry, WriterStats, HOST_PREFIX};
use crate::plugin::LoadedPlugin;

/// The key the host writes its status to.
pub const STATUS_KEY: &str = "pulse:status";

/// The outcome of one plugin call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// When the call started, ms since the Unix epoch.
    pub started_ms: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Per-plugin counters, kept across cycles.
#[derive(Debug, Clone, Default, Serialize)]
struct PluginStats {
    calls: u64,
    failures: u64,
    last_call: Option<i64>,
    last_duration_ms: Option<f64>,
    last_error: Option<String>,
}

/// One plugin as `pulse:status` shows it.
#[derive(Debug, Serialize)]
struct PluginStatus<'a> {
    name: &'a str,
    version: &'a str,
    kind: &'static str,
    hash: &'a str,
    file: String,
    #[serde(flatten)]
    stats: &'a PluginStats,
}

/// The `pulse:status` document.
#[derive(Debug, Serialize)]
struct StatusDoc<'a> {
    cycle: u64,
    timestamp: i64,
    timestamp_ms: i64,
    source: &'a str,
    symbols: usize,
    interval_ms: u128,
    ttl: u32,
    skipped_ticks: u64,
    cycle_duration_ms: f64,
    entries_written_last_cycle: usize,
    entries_dropped: usize,
    pulse_version: &'static str,
    plugins: Vec<PluginStatus<'a>>,
    cache: &'a WriterStats,
}

/// Facts about the cycle being finished, for its status entry.
#[derive(Debug, Clone)]
pub struct CycleFacts<'a> {
    /// The cycle's number.
    pub cycle: u64,
    /// Snapshot time, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// Source name.
    pub source: &'a str,
    /// Symbols analysed.
    pub symbols: usize,
    /// Configured interval.
    pub interval: std::time::Duration,
    /// TTL of the status entry.
    pub ttl: u32,
    /// Ticks skipped so far because a cycle overran.
    pub skipped_ticks: u64,
    /// Time spent so far on this cycle, in milliseconds.
    pub duration_ms: f64,
    /// Entries stored by the previous cycle's write.
    pub written_last_cycle: usize,
    /// Entries dropped by validation this cycle.
    pub dropped: usize,
    /// The cache writer's totals and server states.
    pub cache: WriterStats,
}

/// Keeps per-plugin counters and renders the status entry.
#[derive(Debug, Default)]
pub struct StatusBoard {
    plugins: BTreeMap<String, PluginStats>,
}

impl StatusBoard {
    /// Records one call of `plugin`.
    pub fn record(&mut self, plugin: &str, outcome: &CallOutcome) {
        let stats = self.plugins.entry(plugin.to_string()).or_default();
        stats.calls += 1;
        stats.last_call = Some(outcome.started_ms);
        stats.last_duration_ms = Some(outcome.duration_ms);
        stats.last_error.clone_from(&outcome.error);
        if outcome.error.is_some() {
            stats.failures += 1;
        }
    }

    /// The `pulse:status` entry for the loaded plugins.
    pub fn entry<'a>(&self, facts: &CycleFacts<'_>, plugins: impl Iterator<Item = &'a LoadedPlugin>) -> ValidEntry {
        let none = PluginStats::default();
        let doc = StatusDoc {
            cycle: facts.cycle,
            timestamp: facts.timestamp_ms.div_euclid(1000),
            timestamp_ms: facts.timestamp_ms,
            source: facts.source,
            symbols: facts.symbols,
            interval_ms: facts.interval.as_millis(),
            ttl: facts.ttl,
            skipped_ticks: facts.skipped_ticks,
            cycle_duration_ms: facts.duration_ms,
            entries_written_last_cycle: facts.written_last_cycle,
            entries_dropped: facts.dropped,
            pulse_version: env!("CARGO_PKG_VERSION"),
            plugins: plugins
                .map(|p| PluginStatus {
                    name: &p.name,
                    version: &p.info.version,
                    kind: p.kind.label(),
                    hash: &p.identity.hash,
                    file: p.path.display().to_string(),
                    stats: self.plugins.get(&*p.name).unwrap_or(&none),
                })
                .collect(),
            cache: &facts.cache,
        };
        debug_assert!(STATUS_KEY.starts_with(HOST_PREFIX));
        ValidEntry {
            key: STATUS_KEY.to_string(),
            value: serde_json::to_vec(&doc).expect("the status document always serialises"),
            ttl: facts.ttl,
        }
    }
}
