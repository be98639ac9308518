//! The evaluation across a restart: what the warm state saves of it (pending samples, each
//! distinct list of symbols once, and every version's sums), and the checks a saved file must
//! pass to be taken back.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::sample::{self, Sample, SavedSample};
use super::{Evaluation, Tracked};

/// What a warm restart takes back: pending samples and sums, under the same horizons.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedEvaluation {
    /// The horizons in seconds, and `sample_every`: sums of other horizons are not taken back.
    horizons_s: (Vec<u64>, u64),
    /// Each distinct list of symbols of the samples pending.
    symbols: Vec<Arc<Vec<String>>>,
    /// Samples pending, oldest first.
    pending: Vec<SavedSample>,
    /// The last sample's period, and the newest snapshot's time.
    last: (Option<i64>, Option<i64>),
    /// Every version scored.
    versions: Vec<Tracked>,
    /// The next version's id.
    next_id: u64,
}

impl Evaluation {
    /// What a warm restart takes back.
    pub fn saved(&self) -> SavedEvaluation {
        let (symbols, pending) = sample::save(self.pending.iter());
        SavedEvaluation {
            horizons_s: (self.horizon_seconds(), self.config.sample_every.0.as_secs()),
            symbols,
            pending,
            last: (self.last_period, self.newest_ms),
            versions: self.versions.clone(),
            next_id: self.next_id,
        }
    }

    /// Takes back what a run saved, if it scored at the same horizons and sampling; returns how
    /// many samples pending and versions' sums it took back.
    pub fn restore(&mut self, saved: SavedEvaluation) -> Option<(usize, usize)> {
        let lists_hold = saved.symbols.len() <= saved.pending.len()
            && saved.symbols.iter().all(|l| l.len() <= self.config.max_symbols);
        if saved.pending.len() > self.config.max_pending() || !lists_hold {
            return None;
        }
        let pending: VecDeque<Sample> = saved
            .pending
            .into_iter()
            .map(|s| s.restore(&saved.symbols))
            .collect::<Option<_>>()?;
        if !self.holds(
            &saved.versions,
            &pending,
            saved.last,
            (&saved.horizons_s, saved.next_id),
        ) {
            return None;
        }
        let taken = (pending.len(), saved.versions.len());
        self.pending = pending;
        (self.last_period, self.newest_ms) = saved.last;
        self.next_id = saved.next_id;
        self.versions = saved.versions;
        Some(taken)
    }

    /// Whether what a file saved was scored as this evaluation scores (`rules`), within its
    /// bounds: ids that cannot collide, times in order, prices that make returns, every
    /// sample's columns as long as its symbols and naming versions saved. A file edited, or
    /// from another config, is not taken back.
    fn holds(
        &self,
        versions: &[Tracked],
        pending: &VecDeque<Sample>,
        (last_period, newest): (Option<i64>, Option<i64>),
        (rules, next_id): (&(Vec<u64>, u64), u64),
    ) -> bool {
        let horizons = self.config.horizons.len();
        let same_rules = *rules == (self.horizon_seconds(), self.config.sample_every.0.as_secs());
        let sums = versions
            .iter()
            .all(|v| v.tallies.len() == horizons && v.paired.len() == horizons);
        // Ids well below the end of u64, each version's once, each column naming one of them once
        // (sets, so a file of many versions costs no more than reading it).
        let ids: BTreeSet<u64> = versions.iter().map(|v| v.id).collect();
        let ids_hold = ids.len() == versions.len() && ids.iter().all(|id| *id < next_id) && next_id < u64::MAX / 2;
        let period = self.config.sample_every.0.as_millis() as i64;
        let times_hold = match newest {
            Some(newest) => last_period.is_none_or(|p| p <= newest.div_euclid(period)),
            None => last_period.is_none() && pending.is_empty(),
        };
        let sample_holds = |s: &Sample| {
            let n = s.symbols.len();
            let columns: BTreeSet<u64> = s.columns.iter().map(|(id, _)| *id).collect();
            n <= self.config.max_symbols
                && newest.is_some_and(|newest| s.at_ms <= newest)
                && s.done.len() == horizons
                && s.prices.len() == n
                && s.prices.iter().all(|p| p.is_finite() && *p > 0.0)
                && columns.len() == s.columns.len()
                && columns.is_subset(&ids)
                && s.columns.iter().all(|(_, c)| c.holds(n))
        };
        same_rules && sums && ids_hold && times_hold && pending.iter().all(sample_holds)
    }
}
