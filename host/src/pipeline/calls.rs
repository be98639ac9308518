//! The cycle's plugin calls: the analyzers, then the aggregators on what the analyzers
//! returned, each call bounded by its deadline and recorded, and the checks on what comes back.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use tracing::{error, warn};

use super::markets::MarketsByNeeds;
use super::shadows::Aggregated;
use super::Pipeline;
use crate::plugin::checks::handed_over_bytes;
use crate::plugin::{call_on_pool, is_shadow_file, CallError, Generation, LoadedPlugin};
use crate::shared::call::CallOutcome;
use crate::shared::clock::now_ms;
use crate::shared::contract::{AnalyzerOutput, CacheEntry};
use crate::shared::entry::validate;
use crate::shared::entry::ValidEntry;

/// What an analyzer's dropped verdicts were, in its log line.
pub(super) const INVALID_VERDICTS: &str = "verdicts whose score is not a finite number in 0..100";

impl Pipeline {
    /// The plugins the circuit breaker lets run this cycle.
    fn admitted(&mut self, plugins: &[Arc<LoadedPlugin>]) -> Vec<Arc<LoadedPlugin>> {
        plugins
            .iter()
            .filter(|p| self.status.admits(&p.id, &p.fingerprint, self.cycle))
            .cloned()
            .collect()
    }

    /// Calls every analyzer the breaker admits, in parallel; failed ones are logged and left out.
    pub(super) async fn run_analyzers(
        &mut self,
        generation: &Generation,
        markets: &MarketsByNeeds,
    ) -> Arc<Vec<AnalyzerOutput>> {
        let admitted = self.admitted(&generation.analyzers);
        let calls = admitted.iter().map(|plugin| {
            let market = markets.for_plugin(plugin);
            call_blocking(plugin.clone(), move |p| p.analyze(&market.view()))
        });
        let mut outputs = Vec::with_capacity(admitted.len());
        for (plugin, (outcome, result)) in admitted.iter().zip(join_in_order(calls).await) {
            self.status.record(&plugin.id, self.cycle, &outcome);
            match result {
                Ok((analyses, dropped)) => {
                    self.status.signals(&plugin.id, &analyses);
                    self.status.dropped(&plugin.id, dropped);
                    self.note_drops(plugin, "verdicts", dropped, INVALID_VERDICTS);
                    outputs.push(AnalyzerOutput {
                        plugin: plugin.id.to_string(),
                        version: plugin.info.version.clone(),
                        analyses,
                    });
                }
                Err(e) => self.note_failure(plugin, "analyzer", &e),
            }
        }
        Arc::new(outputs)
    }

    /// Calls every aggregator the breaker admits, in parallel, and validates their entries;
    /// returns the entries to write, how many were dropped, and which aggregator wrote which.
    pub(super) async fn run_aggregators(
        &mut self,
        generation: &Generation,
        markets: &MarketsByNeeds,
        outputs: Arc<Vec<AnalyzerOutput>>,
    ) -> Aggregated {
        let admitted = self.admitted(&generation.aggregators);
        let inputs: Vec<Arc<Vec<AnalyzerOutput>>> =
            admitted.iter().map(|plugin| self.fit_input(plugin, &outputs)).collect();
        let calls = admitted.iter().zip(inputs).map(|(plugin, outputs)| {
            let market = markets.for_plugin(plugin);
            call_blocking(plugin.clone(), move |p| p.aggregate(&market.view(), &outputs))
        });
        let mut entries = Vec::new();
        let mut dropped = 0;
        let mut spans = Vec::new();
        for (plugin, (outcome, result)) in admitted.iter().zip(join_in_order(calls).await) {
            self.status.record(&plugin.id, self.cycle, &outcome);
            let produced = match result {
                Ok(produced) => produced,
                Err(e) => {
                    self.note_failure(plugin, "aggregator", &e);
                    continue;
                }
            };
            let start = entries.len();
            let own_dropped = self.check_entries(plugin, produced, &mut entries);
            spans.push((plugin.id.to_string(), start..entries.len()));
            dropped += own_dropped;
            self.status.dropped(&plugin.id, own_dropped);
        }
        Aggregated {
            entries,
            dropped,
            spans,
        }
    }

    /// Checks `produced`, the entries of one call of `plugin`, as if to write them: pushes the
    /// valid ones onto `into` and logs the others (`note_drops`); returns how many it dropped.
    pub(super) fn check_entries(
        &mut self,
        plugin: &LoadedPlugin,
        produced: Vec<CacheEntry>,
        into: &mut Vec<ValidEntry>,
    ) -> usize {
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

    /// The analyzer results `aggregator` is handed: all of them while they fit in a quarter of
    /// its memory cap (the bundled dashboard works in ~3.7 bytes per byte it is handed), else
    /// without the largest until they do, so no number of analyzers can push an aggregator past
    /// its cap. A withheld result counts as that analyzer failing for this
    /// aggregator; the change is logged once.
    pub(super) fn fit_input(
        &mut self,
        aggregator: &LoadedPlugin,
        outputs: &Arc<Vec<AnalyzerOutput>>,
    ) -> Arc<Vec<AnalyzerOutput>> {
        let budget = aggregator.policy.memory_bytes / 4;
        let sizes: Vec<usize> = outputs.iter().map(handed_over_bytes).collect();
        let mut total: usize = sizes.iter().sum();
        if total <= budget {
            return outputs.clone();
        }
        let mut by_size: Vec<usize> = (0..outputs.len()).collect();
        by_size.sort_by_key(|&i| (std::cmp::Reverse(sizes[i]), outputs[i].plugin.clone()));
        let mut withheld = Vec::new();
        for i in by_size {
            if total <= budget {
                break;
            }
            total -= sizes[i];
            withheld.push(i);
        }
        let names: Vec<String> = withheld
            .iter()
            .map(|&i| format!("{} ({} bytes)", outputs[i].plugin, sizes[i]))
            .collect();
        self.note_drops(
            aggregator,
            "input",
            withheld.len(),
            &format!(
                "analyzer results to stay within its input budget of {budget} bytes (a quarter of its memory cap): {}",
                names.join(", ")
            ),
        );
        let kept = outputs
            .iter()
            .enumerate()
            .filter(|(i, _)| !withheld.contains(i))
            .map(|(_, o)| o.clone())
            .collect();
        Arc::new(kept)
    }

    /// Logs a plugin's dropped outputs of one `kind` when they start and then at most once a
    /// minute, so a plugin that misbehaves every cycle costs a line a minute, not one a cycle.
    /// A shadow's are its own lines, which say it is the shadow.
    pub(super) fn note_drops(&mut self, plugin: &LoadedPlugin, kind: &str, count: usize, what: &str) {
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
    fn note_failure(&mut self, plugin: &LoadedPlugin, role: &str, error: &CallError) {
        let reason = format!("{}@{}: {}", plugin.id, plugin.short_hash(), error.failure.label());
        if let Some(due) = self.repeats.admit(&reason) {
            error!(plugin = %plugin.id, cycle = self.cycle, "{role} failed: {error}{due}");
        }
    }
}

/// Starts a plugin call at once, bounded by its deadline (`plugin::call_on_pool`); the
/// returned future yields its timed outcome.
pub(super) fn call_blocking<R: Send + 'static>(
    plugin: Arc<LoadedPlugin>,
    call: impl FnOnce(&LoadedPlugin) -> Result<R, CallError> + Send + 'static,
) -> impl Future<Output = (CallOutcome, Result<R, CallError>)> {
    let started_ms = now_ms();
    let deadline = plugin.policy.call_timeout;
    let caller = plugin.clone();
    let task = call_on_pool(deadline, move || call(&caller));
    async move {
        let (elapsed, result) = task.await;
        let log_dropped = plugin.take_log_dropped();
        let outcome = CallOutcome {
            log_dropped_lines: log_dropped.lines,
            log_dropped_bytes: log_dropped.bytes,
            started_ms,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            error: result.as_ref().err().map(ToString::to_string),
            failure: result.as_ref().err().map(|e| e.failure),
        };
        (outcome, result)
    }
}

/// Awaits calls that are already running, keeping their order.
async fn join_in_order<F: Future>(calls: impl Iterator<Item = F>) -> Vec<F::Output> {
    let calls: Vec<F> = calls.collect();
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        out.push(call.await);
    }
    out
}
