//! Verdicts scored against what the market did next. Once per `sample_every` (by the snapshot's
//! time), the verdicts of every analyzer version called are kept with the symbols' prices; once
//! a horizon has passed, the first fresh snapshot after it gives each symbol's forward return,
//! and the sample is scored ([`score`]) and added to each version's sums ([`tally`]). A shadow's
//! samples are also added beside the serving version's, on the same sample times.
//!
//! Only fresh snapshots count, by their own timestamps, never the clock: a replay of a
//! recording gives the figures the live daemon gave, to the last digit. Everything is bounded:
//! at most `max_symbols` per sample and one sample per `sample_every` over the longest horizon.
//! docs/strategy-updates.md defines every figure.

mod sample;
mod saved;
mod score;
mod tally;

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::EvaluationConfig;
use crate::shared::call::Fingerprint;
use crate::shared::contract::Verdict;
use crate::shared::evidence::{Figures, PairedFigures};
use crate::shared::market::Snapshot;
use sample::Sample;
pub use saved::SavedEvaluation;
use score::{score, SampleScore};
use tally::{PairTally, Tally};

/// One analyzer version loaded this cycle, and its verdicts if it was called and returned them.
pub struct Called<'a> {
    /// The plugin's identity.
    pub plugin: &'a str,
    /// What tells this version from another.
    pub fingerprint: &'a Fingerprint,
    /// Whether it is the shadow version.
    pub shadow: bool,
    /// Its verdicts, aligned with the snapshot's symbols; `None` when it was not called or failed.
    pub verdicts: Option<&'a [Option<Verdict>]>,
}

/// One version scored: which it is, and its sums per horizon.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tracked {
    /// Its id in the samples' columns.
    id: u64,
    /// The plugin's identity.
    plugin: String,
    /// Whether it is the shadow version.
    shadow: bool,
    /// What tells it from another version; another starts afresh.
    fingerprint: Fingerprint,
    /// Per horizon, its sums.
    tallies: Vec<Tally>,
    /// For a shadow, per horizon, its sums and the serving version's on the same samples.
    paired: Vec<PairTally>,
    /// The serving version `paired` is against; another starts them afresh.
    paired_with: Option<Fingerprint>,
}

/// The scoring of every analyzer version: the samples pending and each version's sums.
pub struct Evaluation {
    /// Horizons, sampling, tolerance and bounds.
    config: EvaluationConfig,
    /// Samples whose horizons have not all passed, oldest first.
    pending: VecDeque<Sample>,
    /// The `sample_every` period of the last sample taken.
    last_period: Option<i64>,
    /// The newest fresh snapshot's time: time going back (a looped replay) starts over.
    newest_ms: Option<i64>,
    /// Every version scored, while it is loaded.
    versions: Vec<Tracked>,
    /// The id the next version scored gets.
    next_id: u64,
}

impl Evaluation {
    /// Scoring as `config` says.
    pub fn new(config: EvaluationConfig) -> Self {
        Self {
            config,
            pending: VecDeque::new(),
            last_period: None,
            newest_ms: None,
            versions: Vec::new(),
            next_id: 0,
        }
    }

    /// Takes one cycle in: the versions loaded (`called`) and, if the cycle served a fresh
    /// snapshot, that snapshot: pending samples whose horizon it passes are scored against it,
    /// and if it opens a new sampling period, the versions' verdicts on it are kept.
    pub fn observe(&mut self, fresh: Option<&Snapshot>, called: &[Called<'_>]) {
        if !self.config.enabled {
            return;
        }
        self.track(called);
        let Some(snapshot) = fresh else {
            return;
        };
        if self.newest_ms.is_some_and(|newest| snapshot.timestamp_ms < newest) {
            info!(
                "the market's time went back (a replay starting over?): {} samples pending are dropped, the figures kept",
                self.pending.len()
            );
            self.pending.clear();
            self.last_period = None;
        }
        self.newest_ms = Some(snapshot.timestamp_ms);
        self.score_due(snapshot);
        self.take_sample(snapshot, called);
    }

    /// Keeps sums only for the versions loaded, and starts sums for new ones.
    fn track(&mut self, called: &[Called<'_>]) {
        let same = |t: &Tracked, c: &Called<'_>| {
            t.plugin == c.plugin && t.shadow == c.shadow && t.fingerprint == *c.fingerprint
        };
        self.versions.retain(|t| called.iter().any(|c| same(t, c)));
        let horizons = self.config.horizons.len();
        for c in called {
            if !self.versions.iter().any(|t| same(t, c)) {
                self.versions.push(Tracked {
                    id: self.next_id,
                    plugin: c.plugin.to_string(),
                    shadow: c.shadow,
                    fingerprint: c.fingerprint.clone(),
                    tallies: vec![Tally::default(); horizons],
                    paired: vec![PairTally::default(); horizons],
                    paired_with: None,
                });
                self.next_id += 1;
            }
        }
        // A shadow's pairs are against one serving version: another (a swap, a rollback, a new
        // side config) starts them afresh at once, before any sample of it is scored.
        for i in 0..self.versions.len() {
            let shadow = &self.versions[i];
            let Some(paired_with) = shadow.paired_with.as_ref().filter(|_| shadow.shadow) else {
                continue;
            };
            let serving = self.versions.iter().find(|v| !v.shadow && v.plugin == shadow.plugin);
            if serving.map(|v| &v.fingerprint) != Some(paired_with) {
                let shadow = &mut self.versions[i];
                shadow.paired = vec![PairTally::default(); horizons];
                shadow.paired_with = None;
            }
        }
    }

    /// Scores every pending sample whose horizon `snapshot` passes, against its prices; a
    /// horizon passed by more than the tolerance expires instead.
    fn score_due(&mut self, snapshot: &Snapshot) {
        let now = snapshot.timestamp_ms;
        let tolerance = self.config.tolerance.0.as_millis() as i64;
        let mut prices: Option<HashMap<&str, f64>> = None;
        let mut pending = std::mem::take(&mut self.pending);
        let horizons: Vec<i64> = self.config.horizons.iter().map(|h| h.0.as_millis() as i64).collect();
        for sample in &mut pending {
            for (k, horizon) in horizons.iter().enumerate() {
                let due = sample.at_ms + horizon;
                if sample.done[k] || now < due {
                    continue;
                }
                sample.done[k] = true;
                if now > due + tolerance {
                    self.expire(sample, k);
                    continue;
                }
                let prices = prices
                    .get_or_insert_with(|| snapshot.tickers.iter().map(|t| (t.symbol.as_str(), t.price)).collect());
                let returns = sample.returns(prices);
                // Only versions still loaded: an unloaded one's columns wait to be dropped unscored.
                let scores: Vec<(u64, SampleScore)> = sample
                    .columns
                    .iter()
                    .filter(|(id, _)| self.versions.iter().any(|v| v.id == *id))
                    .map(|(id, verdicts)| (*id, score(verdicts, &returns)))
                    .collect();
                self.add(sample.at_ms, k, &scores);
            }
        }
        pending.retain(|s| !s.finished());
        self.pending = pending;
    }

    /// Adds one sample time's scores at horizon `k` to each version's sums, and each shadow's
    /// beside the serving version's of the same plugin.
    fn add(&mut self, at_ms: i64, k: usize, scores: &[(u64, SampleScore)]) {
        for (id, one) in scores {
            let Some(version) = self.versions.iter_mut().find(|v| v.id == *id) else {
                continue;
            };
            version.tallies[k].add(at_ms, one);
        }
        for (shadow, serving) in self.pairs(scores.iter().map(|(id, _)| *id)) {
            let find = |id: u64| scores.iter().find(|(i, _)| *i == id).map(|(_, s)| s);
            if let (Some(a), Some(b)) = (find(shadow), find(serving)) {
                self.pair_tallies(shadow, serving)[k].add(at_ms, a, b);
            }
        }
    }

    /// Counts sample `sample` as expired at horizon `k`, for each version in it and each pair.
    fn expire(&mut self, sample: &Sample, k: usize) {
        for (id, _) in &sample.columns {
            if let Some(version) = self.versions.iter_mut().find(|v| v.id == *id) {
                version.tallies[k].expire();
            }
        }
        for (shadow, serving) in self.pairs(sample.columns.iter().map(|(id, _)| *id)) {
            self.pair_tallies(shadow, serving)[k].expire();
        }
    }

    /// The (shadow, serving) pairs among the versions `ids` of one sample: a shadow and the
    /// serving version of the same plugin.
    fn pairs(&self, ids: impl Iterator<Item = u64> + Clone) -> Vec<(u64, u64)> {
        let of = |id: u64| self.versions.iter().find(|v| v.id == id);
        ids.clone()
            .filter_map(of)
            .filter(|v| v.shadow)
            .filter_map(|shadow| {
                let serving = ids
                    .clone()
                    .filter_map(of)
                    .find(|v| !v.shadow && v.plugin == shadow.plugin)?;
                Some((shadow.id, serving.id))
            })
            .collect()
    }

    /// The paired sums of `shadow` against `serving`, started afresh if they were against
    /// another serving version.
    fn pair_tallies(&mut self, shadow: u64, serving: u64) -> &mut Vec<PairTally> {
        let serving_version = self
            .versions
            .iter()
            .find(|v| v.id == serving)
            .map(|v| v.fingerprint.clone());
        let horizons = self.config.horizons.len();
        let tracked = self
            .versions
            .iter_mut()
            .find(|v| v.id == shadow)
            .expect("pairs are made of tracked versions");
        if tracked.paired_with != serving_version {
            tracked.paired = vec![PairTally::default(); horizons];
            tracked.paired_with = serving_version;
        }
        &mut tracked.paired
    }

    /// Keeps the verdicts of `called` on `snapshot` if it opens a new sampling period.
    fn take_sample(&mut self, snapshot: &Snapshot, called: &[Called<'_>]) {
        let period = snapshot
            .timestamp_ms
            .div_euclid(self.config.sample_every.0.as_millis() as i64);
        if self.last_period.is_some_and(|last| last >= period) || called.iter().all(|c| c.verdicts.is_none()) {
            return;
        }
        self.last_period = Some(period);
        let mut sample = Sample::new(
            snapshot,
            self.config.max_symbols,
            self.config.horizons.len(),
            self.pending.back(),
        );
        for c in called {
            let (Some(verdicts), Some(version)) = (
                c.verdicts,
                self.versions
                    .iter()
                    .find(|t| t.plugin == c.plugin && t.shadow == c.shadow && t.fingerprint == *c.fingerprint),
            ) else {
                continue;
            };
            sample.keep(version.id, verdicts);
        }
        self.pending.push_back(sample);
        while self.pending.len() > self.config.max_pending() {
            self.pending.pop_front();
        }
    }

    /// The figures of one version per horizon, in the configured order; `None` for a version
    /// not scored (not an analyzer, or scoring is off).
    pub fn figures(&self, plugin: &str, fingerprint: &Fingerprint, shadow: bool) -> Option<Vec<Figures>> {
        let version = self.find(plugin, fingerprint, shadow)?;
        Some(self.labelled(|k, label, s| version.tallies[k].figures(label, s)))
    }

    /// A shadow's figures beside the serving version's on the same samples, per horizon; `None`
    /// for a version not scored or never sampled beside a serving version.
    pub fn paired(&self, plugin: &str, fingerprint: &Fingerprint) -> Option<Vec<PairedFigures>> {
        let version = self.find(plugin, fingerprint, true)?;
        version.paired_with.as_ref()?;
        Some(self.labelled(|k, label, s| {
            let pair = &version.paired[k];
            PairedFigures {
                horizon: label.to_string(),
                shadow: pair.shadow.figures(label, s),
                serving: pair.serving.figures(label, s),
                rank_ic_difference: pair.rank_ic_difference.estimate(),
            }
        }))
    }

    fn find(&self, plugin: &str, fingerprint: &Fingerprint, shadow: bool) -> Option<&Tracked> {
        self.versions
            .iter()
            .find(|t| t.plugin == plugin && t.shadow == shadow && t.fingerprint == *fingerprint)
    }

    /// `each(k, label, seconds)` for every horizon, in the configured order.
    fn labelled<T>(&self, each: impl Fn(usize, &str, u64) -> T) -> Vec<T> {
        self.config
            .horizons
            .iter()
            .enumerate()
            .map(|(k, h)| each(k, &h.to_string(), h.0.as_secs()))
            .collect()
    }

    /// The samples pending, for the benchmark's and the docs' memory figures.
    pub fn pending_samples(&self) -> usize {
        self.pending.len()
    }

    /// The horizons in seconds, as saved.
    fn horizon_seconds(&self) -> Vec<u64> {
        self.config.horizons.iter().map(|h| h.0.as_secs()).collect()
    }
}

#[cfg(test)]
mod tests;
