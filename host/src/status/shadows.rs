//! Shadow versions as the status shows them: each one's calls and how its results differed
//! from the serving version's, in the last cycle and since it was loaded, for `/plugins`,
//! `/shadow/NAME` and `/metrics`, and in one summary line a minute. Nothing here counts
//! against the serving plugin: a shadow has its own record.

mod differences;
mod series;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use super::board::PluginIdentity;
use super::instructions::InstructionCounts;
use crate::shared::call::{CallOutcome, Fingerprint, PluginFacts};
use crate::shared::comparison::VerdictComparison;
use crate::shared::evidence::PairedFigures;
pub use differences::Differences;
pub(super) use series::encode;

/// How often each shadow's summary line is logged.
const SUMMARY_PERIOD: Duration = Duration::from_secs(60);

/// One shadow version's record.
#[derive(Debug, Clone)]
struct Record {
    /// The version these counts belong to; another starts a clean record.
    fingerprint: Fingerprint,
    /// Cycles it ran in.
    cycles: u64,
    /// The last of them.
    cycle: u64,
    /// Calls that returned results.
    calls_ok: u64,
    /// Calls that failed.
    calls_failed: u64,
    /// The last failure's reason.
    last_error: Option<String>,
    /// Failed calls since the last that returned results.
    failed_in_a_row: u64,
    /// Set once it failed `stop_after` cycles in a row: it is not called again.
    stopped: bool,
    /// The last call's duration.
    last_call_ms: f64,
    /// Instructions per call, where counted.
    instructions: Option<InstructionCounts>,
    /// The serving version it was last compared with, `VERSION@HASH12`; `None` while alone.
    serving: Option<String>,
    /// The last cycle's differences, when both versions returned results.
    last: Option<Differences>,
    /// Every cycle's differences since it was loaded.
    total: Option<Differences>,
    /// The differences, cycles and failures since the last summary line.
    period: (Option<Differences>, u64, u64),
    /// When the last summary line was due.
    period_start: Instant,
}

impl Record {
    fn new(fingerprint: Fingerprint) -> Self {
        Self {
            fingerprint,
            cycles: 0,
            cycle: 0,
            calls_ok: 0,
            calls_failed: 0,
            last_error: None,
            failed_in_a_row: 0,
            stopped: false,
            last_call_ms: 0.0,
            instructions: None,
            serving: None,
            last: None,
            total: None,
            period: (None, 0, 0),
            period_start: Instant::now(),
        }
    }
}

/// What `/plugins` and `/shadow/NAME` show of one shadow.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowStatus {
    /// What it is; its name is the serving plugin's, its file in the `shadow/` folder.
    #[serde(flatten)]
    pub plugin: PluginIdentity,
    /// Always `shadow`.
    pub role: &'static str,
    /// The serving version it is compared with, `VERSION@HASH12`; `null` while none serves.
    pub serving: Option<String>,
    /// Cycles it ran in.
    pub cycles: u64,
    /// The last of them, whose results `last_cycle` compares.
    pub cycle: u64,
    /// Calls that returned results.
    pub calls_ok: u64,
    /// Calls that failed.
    pub calls_failed: u64,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// Whether it failed so many cycles in a row that it is no longer called (until its file
    /// changes).
    pub stopped: bool,
    /// The last call's duration.
    pub last_call_ms: f64,
    /// Instructions per call, where counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionCounts>,
    /// How the last cycle's results differed; `null` unless both versions returned results.
    pub last_cycle: Option<Value>,
    /// How the results differed over every cycle since it was loaded.
    pub since_loaded: Option<Value>,
    /// An analyzer's verdicts and the serving version's, scored on the same samples against
    /// what the market did next, per horizon; `null` before it was sampled beside one.
    pub evaluation: Option<Vec<PairedFigures>>,
    /// The last cycle's agreement, for `/metrics`.
    #[serde(skip)]
    pub(super) agreement: Option<f64>,
    /// The last cycle's verdicts, for `/metrics`.
    #[serde(skip)]
    pub(super) verdicts: Option<VerdictComparison>,
}

/// Every loaded shadow's record.
#[derive(Debug)]
pub struct ShadowBoard {
    records: BTreeMap<String, Record>,
    /// Failed cycles in a row after which a shadow is no longer called.
    stop_after: u64,
}

impl ShadowBoard {
    /// A board that stops calling a shadow after `stop_after` failed cycles in a row, as the
    /// breaker quarantines a serving plugin: a broken candidate costs the cycle nothing more.
    pub fn new(stop_after: u64) -> Self {
        Self {
            records: BTreeMap::new(),
            stop_after,
        }
    }

    /// Whether `shadow` is called this cycle: not once it has been stopped.
    pub fn admits(&mut self, shadow: &PluginFacts) -> bool {
        !self.version(shadow).stopped
    }

    /// Records cycle `cycle` of `shadow`: its call and, when it and the serving version
    /// (`serving`, `VERSION@HASH12`, if one serves) both returned results, how they differed.
    pub fn record(
        &mut self,
        (shadow, cycle): (&PluginFacts, u64),
        serving: Option<String>,
        outcome: &CallOutcome,
        differences: Option<Differences>,
    ) {
        let stop_after = self.stop_after;
        let record = self.version(shadow);
        record.cycles += 1;
        record.cycle = cycle;
        record.period.1 += 1;
        record.last_call_ms = outcome.duration_ms;
        InstructionCounts::add(&mut record.instructions, outcome.instructions);
        record.serving = serving;
        match &outcome.error {
            Some(error) => {
                record.calls_failed += 1;
                record.period.2 += 1;
                record.failed_in_a_row += 1;
                record.last_error = Some(error.clone());
                if record.failed_in_a_row >= stop_after && !record.stopped {
                    record.stopped = true;
                    warn!(
                        plugin = %shadow.name,
                        version = %shadow.version,
                        "shadow {} {} failed {} cycles in a row; it is not called again until its file changes. \
                         Last error: {error}",
                        shadow.name,
                        shadow.version,
                        record.failed_in_a_row
                    );
                }
            }
            None => {
                record.calls_ok += 1;
                record.failed_in_a_row = 0;
            }
        }
        if let Some(differences) = &differences {
            for sum in [&mut record.total, &mut record.period.0] {
                match sum {
                    Some(sum) => sum.add(differences),
                    None => *sum = Some(differences.clone()),
                }
            }
        }
        record.last = differences;
    }

    /// The record of `shadow`'s version: a new version starts a clean one.
    fn version(&mut self, shadow: &PluginFacts) -> &mut Record {
        let record = self
            .records
            .entry(shadow.name.clone())
            .or_insert_with(|| Record::new(shadow.fingerprint.clone()));
        if record.fingerprint != shadow.fingerprint {
            *record = Record::new(shadow.fingerprint.clone());
        }
        record
    }

    /// The loaded shadows with their records (those of shadows no longer loaded are dropped),
    /// logging each one's summary line when a minute has passed since its last.
    pub fn publish(
        &mut self,
        loaded: impl Iterator<Item = PluginFacts>,
        scored: impl Fn(&PluginFacts) -> Option<Vec<PairedFigures>>,
    ) -> Vec<ShadowStatus> {
        let loaded: Vec<PluginFacts> = loaded.collect();
        self.records.retain(|name, _| loaded.iter().any(|p| &p.name == name));
        loaded
            .into_iter()
            .map(|p| {
                let record = self.version(&p);
                summarise(&p, record);
                ShadowStatus {
                    evaluation: scored(&p),
                    role: "shadow",
                    serving: record.serving.clone(),
                    cycles: record.cycles,
                    cycle: record.cycle,
                    calls_ok: record.calls_ok,
                    calls_failed: record.calls_failed,
                    last_error: record.last_error.clone(),
                    stopped: record.stopped,
                    last_call_ms: record.last_call_ms,
                    instructions: record.instructions.clone(),
                    last_cycle: record.last.as_ref().map(Differences::summary),
                    since_loaded: record.total.as_ref().map(Differences::summary),
                    agreement: record.last.as_ref().and_then(Differences::agreement),
                    verdicts: match &record.last {
                        Some(Differences::Verdicts(v)) => Some(v.clone()),
                        _ => None,
                    },
                    plugin: p.into(),
                }
            })
            .collect()
    }
}

/// Logs `shadow`'s summary of the last minute once the minute is over, and starts the next.
fn summarise(shadow: &PluginFacts, record: &mut Record) {
    if let Some((line, cycles, failed)) = take_summary(shadow, record, Instant::now()) {
        info!(plugin = %shadow.name, version = %shadow.version, cycles, failed, "{line}");
    }
}

/// At `now`, once a minute with a cycle in it has passed since the last summary: the line
/// saying what `shadow` did in it, with its cycles and failed calls; the next minute starts.
fn take_summary(shadow: &PluginFacts, record: &mut Record, now: Instant) -> Option<(String, u64, u64)> {
    if now.duration_since(record.period_start) < SUMMARY_PERIOD || record.period.1 == 0 {
        return None;
    }
    let (differences, cycles, failed) = std::mem::take(&mut record.period);
    record.period_start = now;
    let beside = record
        .serving
        .as_deref()
        .map_or_else(|| "alone".to_string(), |s| format!("beside {s}"));
    let compared = differences.map_or_else(|| "nothing compared".to_string(), |d| d.line());
    let line = format!(
        "shadow {} {} ({beside}) over the last minute: {cycles} cycles, {failed} failed calls; {compared}",
        shadow.name, shadow.version
    );
    Some((line, cycles, failed))
}

#[cfg(test)]
mod tests;
