//! Per-plugin counters and the circuit breaker that decides whether a plugin is called at
//! all; `document.rs` builds `pulse:status` from them each cycle.
//!
//! A plugin that fails `quarantine_after` cycles in a row is quarantined: not called, shown in
//! `pulse:status`. It is retried after 2 cycles, then 4, 8, ... up to [`MAX_BACKOFF_CYCLES`],
//! and at once when its file or config changes (a new version starts with a clean record).

use std::collections::BTreeMap;

use serde::Serialize;
use tracing::{error, info, warn};

use super::call_times::CallTimes;
use crate::shared::call::{CallOutcome, Failure, Fingerprint, PluginFacts};
use crate::shared::contract::{signal_name, Analyses};

/// Longest wait between retries of a quarantined plugin, in cycles (5 minutes at 2 s).
pub const MAX_BACKOFF_CYCLES: u64 = 150;

/// Per-plugin counters and breaker state, kept across the cycles of one loaded version: the
/// one place these counts live (`pulse:status`, `/plugins` and `/metrics` all read them).
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct PluginStats {
    /// Calls made.
    pub(super) calls: u64,
    /// Calls that failed, whatever the kind.
    pub(super) failures: u64,
    /// Failures that were traps (memory cap and host limits included).
    pub(super) traps: u64,
    /// Failures that were timeouts (the failures neither traps nor timeouts are errors).
    pub(super) timeouts: u64,
    /// Failures by kind (`timeout`, `trap`, `memory_cap`, `over_limit`, `host_limit`, `error`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) failure_kinds: BTreeMap<&'static str, u64>,
    /// Failed calls since the last success; the breaker trips at `quarantine_after`.
    consecutive_failures: u64,
    /// Verdicts or cache entries dropped by the output checks.
    pub(super) dropped: u64,
    /// Log lines dropped over the plugin's log budget.
    pub(super) log_dropped_lines: u64,
    /// Bytes of those lines.
    pub(super) log_dropped_bytes: u64,
    /// Time spent in its calls, in milliseconds.
    total_ms: f64,
    /// Its calls' durations, for `pulse_plugin_call_duration_seconds`.
    #[serde(skip)]
    pub(super) call_times: CallTimes,
    /// Signals an analyzer has given, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    signals: BTreeMap<&'static str, u64>,
    /// When the last call started, ms since the Unix epoch.
    last_call: Option<i64>,
    /// How long the last call took, in milliseconds.
    last_duration_ms: Option<f64>,
    /// Why the last call failed, bounded and escaped; `None` after a success.
    last_error: Option<String>,
    /// Whether the breaker holds the plugin.
    pub(super) quarantined: bool,
    /// The cycle at which a quarantined plugin is tried again.
    retry_at_cycle: Option<u64>,
    /// Cycles between retries now; doubles with each failed retry.
    #[serde(skip)]
    backoff_cycles: u64,
    /// The version these counts belong to; another version starts a clean record.
    #[serde(skip)]
    fingerprint: Option<Fingerprint>,
}

/// What a loaded version is: the part of `pulse:status` and `/plugins` that a serving plugin
/// and a shadow version show alike.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    /// Its identity.
    pub(super) name: String,
    /// The version it describes itself with.
    pub(super) version: String,
    /// `analyzer` or `aggregator`.
    pub(super) kind: &'static str,
    /// The version of the plugin contract it speaks.
    pub(super) contract: &'static str,
    /// The SHA-256 of its file.
    pub(super) hash: String,
    /// The file it was loaded from.
    pub(super) file: String,
    /// When this version was loaded, ms since the Unix epoch.
    pub(super) loaded_at_ms: i64,
}

impl From<PluginFacts> for Described {
    fn from(p: PluginFacts) -> Self {
        Self {
            name: p.name,
            version: p.version,
            kind: p.kind,
            contract: p.contract,
            hash: p.fingerprint.hash,
            file: p.file,
            loaded_at_ms: p.loaded_at_ms,
        }
    }
}

/// One loaded plugin as `pulse:status` and the status server's `/plugins` show it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    /// What it is.
    #[serde(flatten)]
    pub(super) plugin: Described,
    /// Peak linear memory of the last call, in bytes.
    pub(super) memory_bytes: usize,
    /// Its counters and breaker state.
    #[serde(flatten)]
    pub(super) stats: PluginStats,
}

/// Keeps per-plugin counters and breakers.
#[derive(Debug)]
pub struct StatusBoard {
    plugins: BTreeMap<String, PluginStats>,
    quarantine_after: u64,
}

impl StatusBoard {
    /// A board that quarantines a plugin after `quarantine_after` failed cycles in a row.
    pub fn new(quarantine_after: u64) -> Self {
        Self {
            plugins: BTreeMap::new(),
            quarantine_after,
        }
    }

    /// Whether plugin `name` in version `fingerprint` is called in `cycle`: false while it is
    /// quarantined and not yet due for a retry. A new version (file or config changed) starts
    /// with a clean record.
    pub fn admits(&mut self, name: &str, fingerprint: &Fingerprint, cycle: u64) -> bool {
        self.version(name, fingerprint)
            .retry_at_cycle
            .is_none_or(|at| cycle >= at)
    }

    /// The record of plugin `name` in version `fingerprint`: a version seen for the first time
    /// starts a clean one, lifting a quarantine its predecessor was in.
    fn version(&mut self, name: &str, fingerprint: &Fingerprint) -> &mut PluginStats {
        let stats = self.plugins.entry(name.to_string()).or_default();
        if stats.fingerprint.as_ref() != Some(fingerprint) {
            if stats.quarantined {
                info!(plugin = name, "plugin {name} changed; lifting its quarantine");
            }
            *stats = PluginStats {
                fingerprint: Some(fingerprint.clone()),
                ..PluginStats::default()
            };
        }
        stats
    }

    /// Records one call of `plugin` in `cycle` and moves its breaker.
    pub fn record(&mut self, plugin: &str, cycle: u64, outcome: &CallOutcome) {
        let quarantine_after = self.quarantine_after;
        let stats = self.plugins.entry(plugin.to_string()).or_default();
        stats.calls += 1;
        stats.total_ms += outcome.duration_ms;
        stats.call_times.observe(outcome.duration_ms / 1000.0);
        stats.last_call = Some(outcome.started_ms);
        stats.last_duration_ms = Some(outcome.duration_ms);
        stats.last_error.clone_from(&outcome.error);
        stats.log_dropped_lines += outcome.log_dropped_lines;
        stats.log_dropped_bytes += outcome.log_dropped_bytes;
        match outcome.failure {
            Some(Failure::Trap | Failure::MemoryCap | Failure::HostLimit) => stats.traps += 1,
            Some(Failure::Timeout) => stats.timeouts += 1,
            Some(Failure::Error | Failure::OverLimit) | None => {}
        }
        if let Some(kind) = outcome.failure {
            *stats.failure_kinds.entry(kind.label()).or_default() += 1;
        }
        let Some(error) = &outcome.error else {
            if stats.quarantined {
                info!(plugin, "plugin {plugin} succeeded on retry; quarantine lifted");
            }
            stats.consecutive_failures = 0;
            stats.quarantined = false;
            stats.retry_at_cycle = None;
            stats.backoff_cycles = 0;
            return;
        };
        stats.failures += 1;
        stats.consecutive_failures += 1;
        if stats.quarantined {
            stats.backoff_cycles = (stats.backoff_cycles * 2).min(MAX_BACKOFF_CYCLES);
            stats.retry_at_cycle = Some(cycle + stats.backoff_cycles);
            warn!(
                plugin,
                "quarantined plugin {plugin} failed its retry; next retry in {} cycles: {error}", stats.backoff_cycles
            );
        } else if stats.consecutive_failures >= quarantine_after {
            stats.quarantined = true;
            stats.backoff_cycles = 2;
            stats.retry_at_cycle = Some(cycle + stats.backoff_cycles);
            error!(
                plugin,
                failures = stats.consecutive_failures,
                "quarantined plugin {plugin} after {} failed cycles in a row; it is not called until a retry in {} cycles \
                 succeeds or its file changes. Last error: {error}",
                stats.consecutive_failures,
                stats.backoff_cycles
            );
        }
    }

    /// Tallies the signals of an analyzer's result.
    pub fn signals(&mut self, plugin: &str, analyses: &Analyses) {
        let stats = self.plugins.entry(plugin.to_string()).or_default();
        for verdict in analyses.verdicts.iter().flatten() {
            *stats.signals.entry(signal_name(verdict.signal)).or_default() += 1;
        }
    }

    /// One line per plugin: calls, time, failures, drops and signals.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (name, s) in &self.plugins {
            let signals: Vec<String> = s.signals.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!(
                "{name:<20} {:>6} calls {:>9.1} ms total {:>7.3} ms/call {:>4} failures {:>5} dropped  {}\n",
                s.calls,
                s.total_ms,
                if s.calls == 0 { 0.0 } else { s.total_ms / s.calls as f64 },
                s.failures,
                s.dropped,
                signals.join(", ")
            ));
        }
        out
    }

    /// Counts `count` outputs of `plugin` dropped by the checks.
    pub fn dropped(&mut self, plugin: &str, count: usize) {
        self.plugins.entry(plugin.to_string()).or_default().dropped += count as u64;
    }

    /// Each loaded plugin with the counters of its loaded version (a clean record for a version
    /// not called yet, even in a cycle that called no plugin).
    pub fn plugins(&mut self, plugins: impl Iterator<Item = PluginFacts>) -> Vec<PluginStatus> {
        plugins
            .map(|p| PluginStatus {
                stats: self.version(&p.name, &p.fingerprint).clone(),
                memory_bytes: p.peak_memory_bytes,
                plugin: p.into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(hash: &str) -> Fingerprint {
        Fingerprint {
            hash: hash.into(),
            side_config: None,
        }
    }

    fn outcome(failure: Option<Failure>) -> CallOutcome {
        CallOutcome {
            started_ms: 1,
            duration_ms: 2.0,
            error: failure.map(|f| format!("failed: {}", f.label())),
            failure,
            log_dropped_lines: 0,
            log_dropped_bytes: 0,
        }
    }

    /// Runs `cycles` cycles in which plugin `p` (version `v1`) is called when the breaker
    /// admits it, failing each time; returns the cycles it was called in.
    fn failing_calls(board: &mut StatusBoard, cycles: std::ops::RangeInclusive<u64>) -> Vec<u64> {
        let mut called = Vec::new();
        for cycle in cycles {
            if board.admits("p", &fingerprint("v1"), cycle) {
                board.record("p", cycle, &outcome(Some(Failure::Trap)));
                called.push(cycle);
            }
        }
        called
    }

    #[test]
    fn the_breaker_quarantines_after_failures_in_a_row_and_backs_off() {
        let mut board = StatusBoard::new(3);
        // Called in cycles 1-3, quarantined after the third; retried at 5, then 9, then 17.
        assert_eq!(failing_calls(&mut board, 1..=20), [1, 2, 3, 5, 9, 17]);
        let stats = &board.plugins["p"];
        assert!(stats.quarantined);
        assert_eq!((stats.calls, stats.failures, stats.traps), (6, 6, 6));
        assert_eq!(stats.failure_kinds["trap"], 6);
        assert_eq!(stats.retry_at_cycle, Some(17 + 16));
    }

    #[test]
    fn a_success_resets_the_count_and_lifts_the_quarantine() {
        let mut board = StatusBoard::new(3);
        failing_calls(&mut board, 1..=2);
        board.record("p", 3, &outcome(None));
        assert_eq!(
            failing_calls(&mut board, 4..=5),
            [4, 5],
            "two more failures do not trip it"
        );
        assert!(!board.plugins["p"].quarantined);
        failing_calls(&mut board, 6..=6);
        assert!(board.plugins["p"].quarantined);
        assert!(board.admits("p", &fingerprint("v1"), 8), "retried two cycles later");
        board.record("p", 8, &outcome(None));
        let stats = &board.plugins["p"];
        assert!(!stats.quarantined && stats.retry_at_cycle.is_none());
        assert_eq!(stats.consecutive_failures, 0);
        assert_eq!(stats.last_error, None);
    }

    #[test]
    fn the_backoff_stops_growing_at_its_maximum() {
        let mut board = StatusBoard::new(1);
        let called = failing_calls(&mut board, 1..=2000);
        let gaps: Vec<u64> = called.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(&gaps[..8], [2, 4, 8, 16, 32, 64, 128, MAX_BACKOFF_CYCLES]);
        assert!(gaps[8..].iter().all(|&g| g == MAX_BACKOFF_CYCLES), "{gaps:?}");
    }

    #[test]
    fn a_new_version_starts_a_clean_record_even_before_its_first_call() {
        let mut board = StatusBoard::new(2);
        failing_calls(&mut board, 1..=2);
        board.dropped("p", 3);
        assert!(board.plugins["p"].quarantined);
        let listed = board.plugins(
            [PluginFacts {
                name: "p".into(),
                kind: "analyzer",
                contract: "0.2.0",
                version: "2.0.0".into(),
                fingerprint: fingerprint("v2"),
                file: "p.wasm".into(),
                loaded_at_ms: 0,
                peak_memory_bytes: 0,
            }]
            .into_iter(),
        );
        let stats = &listed[0].stats;
        assert_eq!((stats.calls, stats.failures, stats.dropped), (0, 0, 0));
        assert!(!stats.quarantined);
        assert!(board.admits("p", &fingerprint("v2"), 3));
    }
}
