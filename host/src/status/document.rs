//! The `pulse:status` document: the cycle's facts and every loaded plugin with its counters,
//! always small enough to be written.

use serde::Serialize;

use super::board::PluginStatus;
use super::summary::CycleFacts;
use crate::shared::entry::{ValidEntry, STATUS_KEY};
use crate::shared::evidence::Figures;
use crate::shared::leadership::LeadershipFacts;
use crate::shared::stream_health::StreamHealth;
use crate::shared::write_stats::WriterStats;

/// Largest `pulse:status` written with every plugin listed, well below memcached's 1 MiB item
/// limit; past it (only with very many plugins, since each one's texts are bounded) the list
/// is left out and counted, so the status itself is always written.
const MAX_STATUS_BYTES: usize = 900_000;

/// The `pulse:status` document.
#[derive(Debug, Serialize)]
struct StatusDoc<'a> {
    cycle: u64,
    timestamp: i64,
    timestamp_ms: i64,
    source: &'a str,
    source_error: Option<&'a str>,
    snapshot_timestamp_ms: Option<i64>,
    snapshot_age_ms: Option<u64>,
    stale: bool,
    symbols: usize,
    interval_ms: u128,
    ttl: u32,
    skipped_ticks: u64,
    cycle_duration_ms: f64,
    entries_written_last_cycle: usize,
    entries_dropped: usize,
    pulse_version: &'static str,
    plugins: Vec<Stated<'a>>,
    /// How many plugins were left out of `plugins` to keep the document writable.
    #[serde(skip_serializing_if = "Option::is_none")]
    plugins_omitted: Option<usize>,
    cache: &'a WriterStats,
    /// The writer's id and term, when it is one of an active/standby pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    ha: Option<&'a LeadershipFacts>,
    /// The source's streams (connections, symbols gap-free and in a gap, and the counts), when
    /// it streams; each symbol's continuity is at the status server's `/stream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<&'a StreamHealth>,
}

/// A plugin as `pulse:status` states it: its status, and its figures in short.
#[derive(Debug, Serialize)]
struct Stated<'a> {
    #[serde(flatten)]
    status: &'a PluginStatus,
    /// Per horizon, the figures a reader of the status needs to tell a good version from a bad
    /// one; `/plugins` has them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation: Option<Vec<Short<'a>>>,
}

/// One horizon's figures in short.
#[derive(Debug, Serialize)]
struct Short<'a> {
    horizon: &'a str,
    samples: u64,
    rank_ic: Option<f64>,
    rank_ic_stderr: Option<f64>,
    hit_rate: Option<f64>,
    top_minus_bottom_bps: Option<f64>,
    coverage: Option<f64>,
}

impl<'a> Stated<'a> {
    fn of(status: &'a PluginStatus) -> Self {
        let short = |f: &'a Figures| Short {
            horizon: &f.horizon,
            samples: f.samples,
            rank_ic: f.rank_ic.mean,
            rank_ic_stderr: f.rank_ic.stderr,
            hit_rate: f.hit_rate,
            top_minus_bottom_bps: f.top_minus_bottom_bps.mean,
            coverage: f.coverage,
        };
        Self {
            status,
            evaluation: status.evaluation.as_ref().map(|e| e.iter().map(short).collect()),
        }
    }
}

/// The `pulse:status` entry: the cycle's facts, with every loaded plugin while they fit.
pub fn status_entry(facts: &CycleFacts) -> ValidEntry {
    let plugins = &facts.plugins[..];
    let mut doc = StatusDoc {
        cycle: facts.cycle,
        timestamp: facts.timestamp_ms.div_euclid(1000),
        timestamp_ms: facts.timestamp_ms,
        source: facts.source,
        source_error: facts.source_error.as_deref(),
        snapshot_timestamp_ms: facts.snapshot_timestamp_ms,
        snapshot_age_ms: facts.snapshot_age.map(|a| a.as_millis() as u64),
        stale: facts.source_error.is_some(),
        symbols: facts.symbols,
        interval_ms: facts.interval.as_millis(),
        ttl: facts.ttl,
        skipped_ticks: facts.skipped_ticks,
        cycle_duration_ms: facts.duration_ms,
        entries_written_last_cycle: facts.written_last_cycle,
        entries_dropped: facts.dropped,
        pulse_version: env!("CARGO_PKG_VERSION"),
        plugins: plugins.iter().map(Stated::of).collect(),
        plugins_omitted: None,
        cache: &facts.cache,
        ha: facts.ha.as_ref(),
        stream: facts.stream.as_ref(),
    };
    let mut value = serde_json::to_vec(&doc).expect("the status document always serialises");
    if value.len() > MAX_STATUS_BYTES {
        doc.plugins = Vec::new();
        doc.plugins_omitted = Some(plugins.len());
        value = serde_json::to_vec(&doc).expect("the status document always serialises");
    }
    ValidEntry {
        key: STATUS_KEY.to_string(),
        value,
        ttl: facts.ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::board::PluginStats;

    #[test]
    fn the_status_document_leaves_the_plugin_list_out_rather_than_pass_its_bound() {
        let mut facts = CycleFacts {
            cycle: 7,
            timestamp_ms: 1_000,
            source: "simulated",
            interval: std::time::Duration::from_secs(2),
            ttl: 10,
            duration_ms: 1.0,
            ..CycleFacts::default()
        };
        let one = PluginStatus {
            plugin: crate::status::board::PluginIdentity {
                name: "p".into(),
                version: "1".into(),
                kind: "analyzer",
                contract: "0.2.0",
                hash: "0".repeat(64),
                file: "x".repeat(10_000),
                loaded_at_ms: 0,
                signer: Some("s".repeat(64)),
                state_bytes: 0,
                max_state_bytes: 0,
                state_format: "f".repeat(64),
            },
            memory_bytes: 0,
            stats: PluginStats::default(),
            evaluation: None,
        };
        facts.plugins = vec![one.clone()];
        let entry = status_entry(&facts);
        assert_eq!(entry.key, STATUS_KEY);
        let doc: serde_json::Value = serde_json::from_slice(&entry.value).unwrap();
        assert_eq!(doc["plugins"][0]["name"], "p");
        facts.plugins = vec![one; 100];
        let entry = status_entry(&facts);
        assert!(entry.value.len() <= MAX_STATUS_BYTES);
        let doc: serde_json::Value = serde_json::from_slice(&entry.value).unwrap();
        assert_eq!(doc["plugins_omitted"], 100);
        assert_eq!(doc["cycle"], 7);
    }
}
