//! A sample: the verdicts every called analyzer version gave at one sample time, with the
//! symbols and their prices then, kept until each horizon has passed and been scored.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::score::Verdicts;
use crate::shared::contract::Verdict;
use crate::shared::evidence::class_index;
use crate::shared::market::Snapshot;

/// One sample time's verdicts and prices.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    /// The snapshot's time, ms since the Unix epoch: the sample time.
    pub(super) at_ms: i64,
    /// The symbols sampled, in the snapshot's order; shared with the sample before when the
    /// same, as they mostly are.
    pub(super) symbols: Arc<Vec<String>>,
    /// Each symbol's price at the sample time.
    pub(super) prices: Vec<f64>,
    /// Each version's verdicts, by the id of the version scored.
    pub(super) columns: Vec<(u64, Verdicts)>,
    /// Per horizon, whether it has been scored (or expired).
    pub(super) done: Vec<bool>,
}

/// A sample as saved: its symbols are an index into the saved lists, so the list most samples
/// share is written once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SavedSample {
    /// The sample time.
    at_ms: i64,
    /// Which saved list of symbols.
    symbols: usize,
    /// Each symbol's price.
    prices: Vec<f64>,
    /// Each version's verdicts.
    columns: Vec<(u64, Verdicts)>,
    /// Per horizon, whether it is done.
    done: Vec<bool>,
}

/// Saves `samples`, each distinct list of symbols once.
pub(super) fn save<'a>(samples: impl Iterator<Item = &'a Sample>) -> (Vec<Arc<Vec<String>>>, Vec<SavedSample>) {
    let mut lists: Vec<Arc<Vec<String>>> = Vec::new();
    let saved = samples
        .map(|sample| {
            let index = match lists.iter().position(|l| Arc::ptr_eq(l, &sample.symbols)) {
                Some(i) => i,
                None => {
                    lists.push(sample.symbols.clone());
                    lists.len() - 1
                }
            };
            SavedSample {
                at_ms: sample.at_ms,
                symbols: index,
                prices: sample.prices.clone(),
                columns: sample.columns.clone(),
                done: sample.done.clone(),
            }
        })
        .collect();
    (lists, saved)
}

impl SavedSample {
    /// The sample again, sharing its list of `lists`; `None` if it names none of them.
    pub(super) fn restore(self, lists: &[Arc<Vec<String>>]) -> Option<Sample> {
        Some(Sample {
            at_ms: self.at_ms,
            symbols: lists.get(self.symbols)?.clone(),
            prices: self.prices,
            columns: self.columns,
            done: self.done,
        })
    }
}

impl Sample {
    /// The first `max_symbols` symbols of `snapshot` and their prices, at `snapshot`'s time,
    /// with no verdict yet; `before`, the last sample's symbols, is shared if they are the same.
    pub(super) fn new(snapshot: &Snapshot, max_symbols: usize, horizons: usize, before: Option<&Sample>) -> Self {
        let tickers = &snapshot.tickers[..snapshot.tickers.len().min(max_symbols)];
        let symbols = match before {
            Some(b)
                if b.symbols.len() == tickers.len() && b.symbols.iter().zip(tickers).all(|(s, t)| *s == t.symbol) =>
            {
                b.symbols.clone()
            }
            _ => Arc::new(tickers.iter().map(|t| t.symbol.clone()).collect()),
        };
        Self {
            at_ms: snapshot.timestamp_ms,
            symbols,
            prices: tickers.iter().map(|t| t.price).collect(),
            columns: Vec::new(),
            done: vec![false; horizons],
        }
    }

    /// Keeps the verdicts of version `id`, cut to the symbols sampled (the host has checked they
    /// are aligned with the market, so there are never fewer).
    pub(super) fn keep(&mut self, id: u64, verdicts: &[Option<Verdict>]) {
        let Some(verdicts) = verdicts.get(..self.symbols.len()) else {
            return;
        };
        let kept = Verdicts {
            scores: verdicts
                .iter()
                .map(|v| v.as_ref().map_or(f64::NAN, |v| v.score))
                .collect(),
            signals: verdicts
                .iter()
                .map(|v| v.as_ref().map_or(0, |v| class_index(v.signal) as u8))
                .collect(),
        };
        self.columns.push((id, kept));
    }

    /// Each symbol's forward return to `prices` (the later snapshot's, by symbol): `None` where
    /// that snapshot has no price for it.
    pub(super) fn returns(&self, prices: &HashMap<&str, f64>) -> Vec<Option<f64>> {
        self.symbols
            .iter()
            .zip(&self.prices)
            .map(|(symbol, then)| prices.get(symbol.as_str()).map(|now| now / then - 1.0))
            .collect()
    }

    /// Whether every horizon is done.
    pub(super) fn finished(&self) -> bool {
        self.done.iter().all(|d| *d)
    }
}
