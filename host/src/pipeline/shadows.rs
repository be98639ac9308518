//! The cycle's shadow calls: each shadow version runs on the same input as the serving version
//! of its name, once the serving calls are done (so it never competes with them for the cores,
//! and delays the cycle by at most its own deadline), and its results are compared with the
//! serving version's and never written. A shadow that fails cycle after cycle is stopped.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use super::calls::{call_blocking, INVALID_VERDICTS};
use super::markets::MarketsByNeeds;
use super::Pipeline;
use crate::plugin::{CallError, Generation, LoadedPlugin};
use crate::shared::call::CallOutcome;
use crate::shared::comparison::{EntryComparison, VerdictComparison};
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry};
use crate::shared::entry::ValidEntry;
use crate::status::Differences;

/// A shadow's call, running.
pub(super) type Running<R> = (
    Arc<LoadedPlugin>,
    std::pin::Pin<Box<dyn Future<Output = (CallOutcome, Result<R, CallError>)> + Send>>,
);

/// The serving aggregators' entries of a cycle: all of them, and which span each one wrote.
pub(super) struct Aggregated {
    /// Every entry to write, checked.
    pub entries: Vec<ValidEntry>,
    /// Entries the checks dropped.
    pub dropped: usize,
    /// Each serving aggregator's name and its span of `entries`.
    pub spans: Vec<(String, Range<usize>)>,
}

impl Pipeline {
    /// Starts every shadow analyzer still called on its market.
    pub(super) fn start_shadow_analyzers(
        &mut self,
        generation: &Generation,
        markets: &MarketsByNeeds,
    ) -> Vec<Running<(Analyses, usize)>> {
        self.called_shadows(generation, "analyzer")
            .into_iter()
            .map(|shadow| {
                let market = markets.for_plugin(&shadow);
                let call = call_blocking(shadow.clone(), move |p| p.analyze(&market.view()));
                (shadow, Box::pin(call) as _)
            })
            .collect()
    }

    /// Starts every shadow aggregator still called on its market and the serving analyzers'
    /// `outputs`.
    pub(super) fn start_shadow_aggregators(
        &mut self,
        generation: &Generation,
        markets: &MarketsByNeeds,
        outputs: &Arc<Vec<AnalyzerOutput>>,
    ) -> Vec<Running<Vec<CacheEntry>>> {
        self.called_shadows(generation, "aggregator")
            .into_iter()
            .map(|shadow| {
                let market = markets.for_plugin(&shadow);
                let outputs = self.fit_input(&shadow, outputs);
                let call = call_blocking(shadow.clone(), move |p| p.aggregate(&market.view(), &outputs));
                (shadow, Box::pin(call) as _)
            })
            .collect()
    }

    /// Awaits the shadow analyzers and records how each one's verdicts differ, symbol by
    /// symbol of `symbols`, from the serving version's in `outputs`.
    pub(super) async fn compare_shadow_analyzers(
        &mut self,
        generation: &Generation,
        running: Vec<Running<(Analyses, usize)>>,
        symbols: &[String],
        outputs: &[AnalyzerOutput],
    ) {
        for (shadow, call) in running {
            let (outcome, result) = call.await;
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
            self.record_shadow(generation, &shadow, &outcome, differences);
        }
    }

    /// Awaits the shadow aggregators, checks their entries as if they were to be written, and
    /// records how they differ, key by key, from the serving version's in `aggregated`.
    pub(super) async fn compare_shadow_aggregators(
        &mut self,
        generation: &Generation,
        running: Vec<Running<Vec<CacheEntry>>>,
        aggregated: &Aggregated,
    ) {
        for (shadow, call) in running {
            let (outcome, result) = call.await;
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
            self.record_shadow(generation, &shadow, &outcome, differences);
        }
    }

    /// The shadows of `kind` (`analyzer` or `aggregator`) this cycle calls: not those stopped.
    fn called_shadows(&mut self, generation: &Generation, kind: &str) -> Vec<Arc<LoadedPlugin>> {
        generation
            .shadows
            .iter()
            .filter(|s| s.kind.label() == kind && self.shadows.admits(&s.facts()))
            .cloned()
            .collect()
    }

    fn record_shadow(
        &mut self,
        generation: &Generation,
        shadow: &LoadedPlugin,
        outcome: &CallOutcome,
        differences: Option<Differences>,
    ) {
        let serving = generation
            .get(&shadow.id)
            .map(|s| format!("{}@{}", s.info.version, s.short_hash()));
        self.shadows
            .record((&shadow.facts(), self.cycle), serving, outcome, differences);
    }
}
