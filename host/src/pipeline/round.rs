//! One cycle's plugin work, as one value: the analyzers, then the aggregators on what the
//! analyzers returned, then the shadow versions on the same input. Each call is bounded by its
//! deadline and recorded; what comes back is checked (verdict scores, input budgets, entries);
//! each shadow's results are compared with the serving version's and never written.
//!
//! The circuit breaker's admission is read here, before the calls it governs: the one place
//! where status runs ahead of the calls instead of after them.
//!
//! Shadows run once the serving calls are done, so they never compete with them for the cores
//! and delay the cycle by at most their own deadline. A shadow that fails cycle after cycle is
//! stopped.

use std::ops::Range;
use std::sync::Arc;

use tracing::{error, warn};

use futures_util::future::join;

use super::call::{finish_in_order, start, FinishedCall, RunningCall};
use super::input_budget;
use super::plugin_markets::PluginMarkets;
use super::spans;
use crate::plugin::{is_shadow_file, CallError, Generation, LoadedPlugin, Role};
use crate::shared::call::CallOutcome;
use crate::shared::comparison::{EntryComparison, VerdictComparison};
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry, Verdict};
use crate::shared::entry::{validate, ValidEntry};
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::Snapshot;
use crate::status::{Differences, ShadowBoard, StatusBoard};

/// What an analyzer's dropped verdicts were, in its log line.
const INVALID_VERDICTS: &str = "verdicts whose score is not a finite number in 0..100";

/// One cycle's plugin calls, with what they record into.
pub(super) struct PluginRound<'a> {
    /// The cycle's number, for the breaker and the log.
    pub(super) cycle: u64,
    /// The versions this cycle serves and shadows.
    pub(super) generation: &'a Generation,
    /// The market each version asked for.
    pub(super) markets: &'a PluginMarkets,
    /// The serving versions' counters and breakers.
    pub(super) status: &'a mut StatusBoard,
    /// The shadow versions' records.
    pub(super) shadows: &'a mut ShadowBoard,
    /// Lines that could repeat every cycle (drops, failures), throttled.
    pub(super) repeats: &'a mut LogThrottle,
}

/// What the round produced.
#[derive(Default)]
pub(super) struct RoundOutcome {
    /// The serving analyzers' results, all of them (each aggregator was handed those that fit
    /// its budget).
    pub(super) outputs: Arc<Vec<AnalyzerOutput>>,
    /// The serving aggregators' entries, checked, in aggregator order.
    pub(super) entries: Vec<ValidEntry>,
    /// Entries the checks dropped.
    pub(super) dropped: usize,
    /// The shadow analyzers' verdicts, for scoring beside the serving versions'.
    pub(super) shadow_verdicts: Vec<(Arc<LoadedPlugin>, Vec<Option<Verdict>>)>,
}

/// The serving aggregators' entries: all of them, and which span each one wrote.
struct Aggregated {
    /// Every entry to write, checked.
    entries: Vec<ValidEntry>,
    /// Entries the checks dropped.
    dropped: usize,
    /// Each serving aggregator's name and its span of `entries`.
    spans: Vec<(String, Range<usize>)>,
}

impl PluginRound<'_> {
    /// Runs the round on `snapshot`'s markets: serving analyzers, serving aggregators, then the
    /// shadows of both.
    pub(super) async fn run(mut self, snapshot: &Snapshot) -> RoundOutcome {
        let outputs = self.analyzers().await;
        let aggregated = self.aggregators(&outputs).await;
        let shadow_analyzers = self.start_shadow_analyzers();
        let shadow_aggregators = self.start_shadow_aggregators(&outputs);
        // Both kinds of shadow awaited together, so each call (and its span) ends when it does.
        let (shadow_analyzers, shadow_aggregators) =
            join(finish_in_order(shadow_analyzers), finish_in_order(shadow_aggregators)).await;
        let mut shadow_verdicts = Vec::new();
        if !shadow_analyzers.is_empty() {
            let symbols: Vec<String> = snapshot.tickers.iter().map(|t| t.symbol.clone()).collect();
            shadow_verdicts = self.compare_shadow_analyzers(shadow_analyzers, &symbols, &outputs);
        }
        self.compare_shadow_aggregators(shadow_aggregators, &aggregated);
        RoundOutcome {
            outputs,
            entries: aggregated.entries,
            dropped: aggregated.dropped,
            shadow_verdicts,
        }
    }

    /// The plugins the circuit breaker lets run this cycle.
    fn admitted(&mut self, plugins: &[Arc<LoadedPlugin>]) -> Vec<Arc<LoadedPlugin>> {
        plugins
            .iter()
            .filter(|p| self.status.admits(&p.id, &p.fingerprint, self.cycle))
            .cloned()
            .collect()
    }

    /// Calls every analyzer the breaker admits, in parallel; failed ones are logged and left out.
    async fn analyzers(&mut self) -> Arc<Vec<AnalyzerOutput>> {
        let calls = self
            .admitted(&self.generation.analyzers)
            .iter()
            .map(|plugin| {
                let market = self.markets.for_plugin(plugin);
                start(plugin, market.view().len(), move |p, state| {
                    p.analyze(&market.view(), state)
                })
            })
            .collect();
        let mut outputs = Vec::new();
        for (plugin, (outcome, result)) in finish_in_order(calls).await {
            self.status.record(&plugin.id, self.cycle, &outcome);
            match result {
                Ok((analyses, dropped)) => {
                    self.status.signals(&plugin.id, &analyses);
                    self.status.dropped(&plugin.id, dropped);
                    self.note_drops(&plugin, "verdicts", dropped, INVALID_VERDICTS);
                    outputs.push(AnalyzerOutput {
                        plugin: plugin.id.to_string(),
                        version: plugin.info.version.clone(),
                        analyses,
                    });
                }
                Err(e) => self.note_failure(&plugin, &e),
            }
        }
        Arc::new(outputs)
    }

    /// Calls every aggregator the breaker admits, in parallel, each on the analyzers' results
    /// that fit its budget, and checks their entries.
    async fn aggregators(&mut self, outputs: &Arc<Vec<AnalyzerOutput>>) -> Aggregated {
        let admitted = self.admitted(&self.generation.aggregators);
        let calls = admitted
            .iter()
            .map(|plugin| {
                let market = self.markets.for_plugin(plugin);
                let outputs = self.fit_input(plugin, outputs);
                start(plugin, market.view().len(), move |p, state| {
                    p.aggregate(&market.view(), &outputs, state)
                })
            })
            .collect();
        let mut aggregated = Aggregated {
            entries: Vec::new(),
            dropped: 0,
            spans: Vec::new(),
        };
        for (plugin, (outcome, result)) in finish_in_order(calls).await {
            self.status.record(&plugin.id, self.cycle, &outcome);
            let produced = match result {
                Ok(produced) => produced,
                Err(e) => {
                    self.note_failure(&plugin, &e);
                    continue;
                }
            };
            let start = aggregated.entries.len();
            let dropped = self.check_entries(&plugin, produced, &mut aggregated.entries);
            aggregated
                .spans
                .push((plugin.id.to_string(), start..aggregated.entries.len()));
            aggregated.dropped += dropped;
            self.status.dropped(&plugin.id, dropped);
        }
        aggregated
    }

    /// The shadows of `kind` this cycle calls: not those stopped.
    fn called_shadows(&mut self, role: Role) -> Vec<Arc<LoadedPlugin>> {
        self.generation
            .shadows
            .iter()
            .filter(|s| s.kind.role() == role && self.shadows.admits(&s.facts()))
            .cloned()
            .collect()
    }

    /// Starts every shadow analyzer still called, on its market.
    fn start_shadow_analyzers(&mut self) -> Vec<RunningCall<(Analyses, usize)>> {
        self.called_shadows(Role::Analyzer)
            .iter()
            .map(|shadow| {
                let market = self.markets.for_plugin(shadow);
                start(shadow, market.view().len(), move |p, state| {
                    p.analyze(&market.view(), state)
                })
            })
            .collect()
    }

    /// Starts every shadow aggregator still called, on its market and the serving analyzers'
    /// `outputs` that fit its budget.
    fn start_shadow_aggregators(&mut self, outputs: &Arc<Vec<AnalyzerOutput>>) -> Vec<RunningCall<Vec<CacheEntry>>> {
        self.called_shadows(Role::Aggregator)
            .iter()
            .map(|shadow| {
                let market = self.markets.for_plugin(shadow);
                let outputs = self.fit_input(shadow, outputs);
                start(shadow, market.view().len(), move |p, state| {
                    p.aggregate(&market.view(), &outputs, state)
                })
            })
            .collect()
    }

    /// Records how each finished shadow analyzer's verdicts differ, symbol by symbol of
    /// `symbols`, from the serving version's in `outputs`; returns the verdicts of those that
    /// returned results.
    fn compare_shadow_analyzers(
        &mut self,
        finished: Vec<FinishedCall<(Analyses, usize)>>,
        symbols: &[String],
        outputs: &[AnalyzerOutput],
    ) -> Vec<(Arc<LoadedPlugin>, Vec<Option<Verdict>>)> {
        let mut verdicts = Vec::new();
        for (shadow, (outcome, result)) in finished {
            if let Ok((_, dropped)) = &result {
                self.note_drops(&shadow, "verdicts", *dropped, INVALID_VERDICTS);
            }
            let serving = outputs.iter().find(|o| o.plugin == shadow.id.as_str());
            let differences = match (&result, serving) {
                (Ok((analyses, _)), Some(serving)) => Some(Differences::Verdicts(VerdictComparison::of(
                    symbols,
                    &serving.analyses,
                    analyses,
                ))),
                _ => None,
            };
            self.record_shadow(&shadow, &outcome, differences);
            if let Ok((analyses, _)) = result {
                verdicts.push((shadow, analyses.verdicts));
            }
        }
        verdicts
    }

    /// Checks the finished shadow aggregators' entries as if they were to be written, and
    /// records how they differ, key by key, from the serving version's in `aggregated`.
    fn compare_shadow_aggregators(&mut self, finished: Vec<FinishedCall<Vec<CacheEntry>>>, aggregated: &Aggregated) {
        for (shadow, (outcome, result)) in finished {
            let serving = aggregated
                .spans
                .iter()
                .find(|(name, _)| name == shadow.id.as_str())
                .map(|(_, span)| &aggregated.entries[span.clone()]);
            let checked = result.map(|produced| {
                let mut checked = Vec::new();
                self.check_entries(&shadow, produced, &mut checked);
                checked
            });
            let differences = match (checked, serving) {
                (Ok(checked), Some(serving)) => Some(Differences::Entries(EntryComparison::of(serving, &checked))),
                _ => None,
            };
            self.record_shadow(&shadow, &outcome, differences);
        }
    }

    /// Records a shadow's cycle beside the version serving under its name, if one does.
    fn record_shadow(&mut self, shadow: &LoadedPlugin, outcome: &CallOutcome, differences: Option<Differences>) {
        let serving = self
            .generation
            .get(&shadow.id)
            .map(|s| format!("{}@{}", s.info.version, s.short_hash()));
        self.shadows
            .record((&shadow.facts(), self.cycle), serving, outcome, differences);
    }

    /// Checks `produced`, the entries of one call of `plugin`, as if to write them: pushes the
    /// valid ones onto `into` and logs the others (`note_drops`); returns how many it dropped.
    fn check_entries(&mut self, plugin: &LoadedPlugin, produced: Vec<CacheEntry>, into: &mut Vec<ValidEntry>) -> usize {
        let rules = plugin.entry_rules();
        let mut first_reason = None;
        let mut dropped = 0;
        for entry in produced {
            match validate(entry, &rules) {
                Ok(valid) => into.push(valid),
                Err(e) => {
                    dropped += 1;
                    first_reason.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
        let what = first_reason.map_or_else(String::new, |reason| format!("cache entries; first: {reason}"));
        self.note_drops(plugin, "entries", dropped, &what);
        dropped
    }

    /// The analyzer results `aggregator` is handed ([`input_budget::fit`]). A withheld result
    /// counts as that analyzer failing for this aggregator; the change is logged once.
    fn fit_input(&mut self, aggregator: &LoadedPlugin, outputs: &Arc<Vec<AnalyzerOutput>>) -> Arc<Vec<AnalyzerOutput>> {
        let fitted = input_budget::fit(aggregator, outputs);
        if !fitted.withheld.is_empty() {
            let names: Vec<String> = fitted
                .withheld
                .iter()
                .map(|(name, bytes)| format!("{name} ({bytes} bytes)"))
                .collect();
            let what = format!(
                "analyzer results to stay within its input budget of {} bytes (a quarter of its memory cap): {}",
                fitted.budget,
                names.join(", ")
            );
            self.note_drops(aggregator, "input", fitted.withheld.len(), &what);
        }
        fitted.outputs
    }

    /// Logs a plugin's dropped outputs of one `kind` when they start and then at most once a
    /// minute, so a plugin that misbehaves every cycle costs a line a minute, not one a cycle.
    /// A shadow's are its own lines, which say it is the shadow.
    fn note_drops(&mut self, plugin: &LoadedPlugin, kind: &str, count: usize, what: &str) {
        if count == 0 {
            return;
        }
        let shadow = is_shadow_file(&plugin.path);
        let who = if shadow { "shadow " } else { "" };
        if let Some(due) = self.repeats.admit(&format!("{who}{}: dropped {kind}", plugin.id)) {
            match shadow {
                true => {
                    warn!(plugin = %plugin.id, shadow, cycle = self.cycle, "shadow {} dropped {count} {what}{due}", plugin.id)
                }
                false => warn!(plugin = %plugin.id, cycle = self.cycle, "dropped {count} {what}{due}"),
            }
        }
    }

    /// Logs a failed call the first time this version of the plugin fails that way and then at
    /// most once a minute; the status board and the metrics count every one.
    fn note_failure(&mut self, plugin: &LoadedPlugin, error: &CallError) {
        let reason = format!("{}@{}: {}", plugin.id, plugin.short_hash(), error.failure.label());
        if let Some(due) = self.repeats.admit(&reason) {
            let role = plugin.kind.label();
            let trace_id = spans::trace_id(&tracing::Span::current());
            error!(plugin = %plugin.id, cycle = self.cycle, trace_id, "{role} failed: {error}{due}");
        }
    }
}
