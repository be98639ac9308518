//! Per-plugin counters and the circuit breaker that decides whether a plugin is called at
//! all; `document.rs` builds `pulse:status` from them each cycle.
//!
//! A plugin that fails `quarantine_after` cycles in a row is quarantined: not called, shown in
//! `pulse:status`. It is retried after 2 cycles, then 4, 8, ... up to [`MAX_BACKOFF_CYCLES`],
//! and at once when its file or config changes (a new version starts with a clean record).
//!
//! A version that replaced another is on probation (`probation.rs`) for its first calls: one
//! that breaks a rule of `[rollback]` is due to give way to the version it replaced, which the
//! pipeline takes from [`StatusBoard::take_rollbacks`]; a version swapped back is not.

use std::collections::BTreeMap;

use serde::Serialize;
use tracing::{error, info, warn};

use super::call_times::CallTimes;
use super::instructions::InstructionCounts;
use super::probation::{judge, Figures, Probation};
use crate::config::RollbackConfig;
use crate::shared::call::{CallOutcome, Failure, Fingerprint, PluginFacts, Rollback};
use crate::shared::contract::{signal_name, Analyses};
use crate::shared::evidence;

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
    /// Failures by kind (`timeout`, `instructions`, `trap`, `memory_cap`, `over_limit`,
    /// `host_limit`, `state`, `error`).
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
    /// Instructions per call, where counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) instructions: Option<InstructionCounts>,
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
    /// While this version is on probation after a swap: calls left, and the record of the
    /// version it replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    probation: Option<Probation>,
    /// Why the version before this one was swapped back out, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    rolled_back: Option<Rollback>,
}

impl PluginStats {
    fn figures(&self) -> Figures {
        Figures {
            calls: self.calls,
            failures: self.failures,
            total_ms: self.total_ms,
        }
    }
}

/// What a loaded version is: the part of `pulse:status` and `/plugins` that a serving plugin
/// and a shadow version show alike.
#[derive(Debug, Clone, Serialize)]
pub struct PluginIdentity {
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
    /// Who signed it, when `[trust]` requires signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) signer: Option<String>,
    /// The state this version keeps for its next call, in bytes (0 for a plugin that keeps
    /// none).
    pub(super) state_bytes: usize,
    /// The most it declared it keeps.
    pub(super) max_state_bytes: u32,
    /// The format it named for its state, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) state_format: String,
}

impl From<PluginFacts> for PluginIdentity {
    fn from(p: PluginFacts) -> Self {
        Self {
            name: p.name,
            version: p.version,
            kind: p.kind,
            contract: p.contract,
            hash: p.fingerprint.hash,
            file: p.file,
            loaded_at_ms: p.loaded_at_ms,
            signer: p.signer,
            state_bytes: p.state_bytes,
            max_state_bytes: p.max_state_bytes,
            state_format: p.state_format,
        }
    }
}

/// One loaded plugin as `pulse:status` and the status server's `/plugins` show it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    /// What it is.
    #[serde(flatten)]
    pub(super) plugin: PluginIdentity,
    /// Peak linear memory of the last call, in bytes.
    pub(super) memory_bytes: usize,
    /// Its counters and breaker state.
    #[serde(flatten)]
    pub(super) stats: PluginStats,
    /// An analyzer's verdicts scored against what the market did next, per horizon; shown in
    /// full by `/plugins` ([`PluginStatus::listed`]), in short in `pulse:status`.
    #[serde(skip)]
    pub(super) evaluation: Option<Vec<evidence::Figures>>,
}

/// A plugin as `/plugins` lists it: its status, and its figures in full.
#[derive(Serialize)]
pub(super) struct Listed<'a> {
    /// Its status.
    #[serde(flatten)]
    status: &'a PluginStatus,
    /// Its figures, per horizon.
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation: Option<&'a [evidence::Figures]>,
}

impl PluginStatus {
    /// As `/plugins` lists it.
    pub(super) fn listed(&self) -> Listed<'_> {
        Listed {
            status: self,
            evaluation: self.evaluation.as_deref(),
        }
    }
}

/// Keeps per-plugin counters, breakers and probations.
#[derive(Debug)]
pub struct StatusBoard {
    plugins: BTreeMap<String, PluginStats>,
    quarantine_after: u64,
    /// When a version on probation gives way.
    rules: RollbackConfig,
    /// Versions due to be swapped back out, and why, with the version each brings back, until
    /// the pipeline takes them.
    due: Vec<(Rollback, Fingerprint)>,
    /// Rollbacks asked for whose reinstated version has not been seen yet: that version (and
    /// only that one) does not go on probation, and its record says why it serves again.
    reinstating: BTreeMap<String, (Fingerprint, Rollback)>,
}

impl StatusBoard {
    /// A board that quarantines a plugin after `quarantine_after` failed cycles in a row, and
    /// puts a version that replaced another on probation by `rules`.
    pub fn new(quarantine_after: u64, rules: RollbackConfig) -> Self {
        Self {
            plugins: BTreeMap::new(),
            quarantine_after,
            rules,
            due: Vec::new(),
            reinstating: BTreeMap::new(),
        }
    }

    /// The versions due to give way to the ones they replaced since the last call; each is
    /// remembered as rolled back, so the version reinstated is not put on probation.
    pub fn take_rollbacks(&mut self) -> Vec<Rollback> {
        std::mem::take(&mut self.due)
            .into_iter()
            .map(|(rollback, back)| {
                self.reinstating
                    .insert(rollback.plugin.clone(), (back, rollback.clone()));
                rollback
            })
            .collect()
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
            let rolled_back = self
                .reinstating
                .remove(name)
                .filter(|(back, _)| back == fingerprint)
                .map(|(_, rollback)| rollback);
            let probation = match (&stats.fingerprint, &rolled_back) {
                (Some(old), None) => Some(Probation::after(&self.rules, stats.figures(), old.clone())),
                _ => None,
            };
            *stats = PluginStats {
                fingerprint: Some(fingerprint.clone()),
                probation,
                rolled_back,
                ..PluginStats::default()
            };
        }
        stats
    }

    /// Records one call of `plugin` in `cycle`, moves its breaker and judges its probation.
    pub fn record(&mut self, plugin: &str, cycle: u64, outcome: &CallOutcome) {
        self.count(plugin, cycle, outcome);
        let stats = self.plugins.entry(plugin.to_string()).or_default();
        let (figures, in_a_row) = (stats.figures(), stats.consecutive_failures);
        let Some(probation) = &mut stats.probation else {
            return;
        };
        probation.cycles_left = probation.cycles_left.saturating_sub(1);
        let verdict = judge(&self.rules, probation, figures, in_a_row);
        if let Some(reason) = verdict {
            let hash = stats.fingerprint.as_ref().map_or_else(String::new, |f| f.hash.clone());
            let rollback = Rollback {
                plugin: plugin.to_string(),
                hash,
                reason,
                cycle,
            };
            self.due.push((rollback, probation.replaced_version.clone()));
            stats.probation = None;
        } else if probation.cycles_left == 0 {
            info!(plugin, "plugin {plugin} passed its probation");
            stats.probation = None;
        }
    }

    /// Counts one call of `plugin` in `cycle` and moves its breaker.
    fn count(&mut self, plugin: &str, cycle: u64, outcome: &CallOutcome) {
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
        InstructionCounts::add(&mut stats.instructions, outcome.instructions);
        match outcome.failure {
            Some(Failure::Trap | Failure::MemoryCap | Failure::HostLimit) => stats.traps += 1,
            Some(Failure::Timeout) => stats.timeouts += 1,
            Some(Failure::Error | Failure::OverLimit | Failure::InstructionBudget | Failure::StateBound) | None => {}
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
            let instructions = s.instructions.as_ref().map_or_else(String::new, |i| {
                format!("{:>12.0} instructions/call (max {}) ", i.mean, i.max)
            });
            out.push_str(&format!(
                "{name:<20} {:>6} calls {:>9.1} ms total {:>7.3} ms/call {instructions}{:>4} failures {:>5} dropped  {}\n",
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
    /// Records of plugins no longer loaded are dropped: one loaded again starts afresh.
    pub fn plugins(
        &mut self,
        plugins: impl Iterator<Item = PluginFacts>,
        scored: impl Fn(&PluginFacts) -> Option<Vec<evidence::Figures>>,
    ) -> Vec<PluginStatus> {
        let plugins: Vec<PluginFacts> = plugins.collect();
        self.plugins.retain(|name, _| plugins.iter().any(|p| &p.name == name));
        plugins
            .into_iter()
            .map(|p| PluginStatus {
                stats: self.version(&p.name, &p.fingerprint).clone(),
                memory_bytes: p.peak_memory_bytes,
                evaluation: scored(&p),
                plugin: p.into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
