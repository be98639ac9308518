//! How a candidate version's results differ from the serving version's on the same input: per
//! symbol for analyzers, per key for aggregators. A live shadow and `pulse replay --compare`
//! both compare with these, so they report the same figures for the same market.

use std::collections::HashMap;

use serde::Serialize;

use super::contract::{signal_name, Analyses, Verdict};
use super::entry::ValidEntry;

/// The most differences kept by name in one comparison: enough to see what moved, bounded
/// whatever the market's size.
pub const MAX_NAMED: usize = 10;

/// Verdicts of two versions of an analyzer, symbol by symbol, over one cycle or many.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerdictComparison {
    /// Symbols both versions scored.
    pub both_scored: u64,
    /// Of those, symbols given the same signal.
    pub signals_agree: u64,
    /// Symbols only the serving version scored.
    pub only_serving: u64,
    /// Symbols only the candidate scored.
    pub only_candidate: u64,
    /// Sum over symbols both scored of the candidate's score less the serving one's.
    pub delta_sum: f64,
    /// Sum of the same differences' absolute values.
    pub abs_delta_sum: f64,
    /// The largest absolute difference.
    pub abs_delta_max: f64,
    /// The first symbols whose signal changed (at most [`MAX_NAMED`]).
    pub signal_changes: Vec<SignalChange>,
}

/// One symbol whose signal differs between the versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalChange {
    /// The symbol.
    pub symbol: String,
    /// The serving version's verdict.
    pub serving: Seen,
    /// The candidate's.
    pub candidate: Seen,
}

/// A verdict as a comparison names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seen {
    /// The signal's name (`BUY`, ...).
    pub signal: String,
    /// The score.
    pub score: f64,
}

impl From<Verdict> for Seen {
    fn from(verdict: Verdict) -> Self {
        Self {
            signal: signal_name(verdict.signal).to_string(),
            score: verdict.score,
        }
    }
}

impl VerdictComparison {
    /// Compares the two versions' results on a market of `symbols` (results are aligned with
    /// them; a shorter list has no verdict on the rest).
    pub fn of(symbols: &[String], serving: &Analyses, candidate: &Analyses) -> Self {
        let mut comparison = Self::default();
        for (i, symbol) in symbols.iter().enumerate() {
            let verdict = |analyses: &Analyses| analyses.verdicts.get(i).copied().flatten();
            match (verdict(serving), verdict(candidate)) {
                (Some(old), Some(new)) => comparison.count(symbol, old, new),
                (Some(_), None) => comparison.only_serving += 1,
                (None, Some(_)) => comparison.only_candidate += 1,
                (None, None) => {}
            }
        }
        comparison
    }

    fn count(&mut self, symbol: &str, old: Verdict, new: Verdict) {
        self.both_scored += 1;
        let delta = new.score - old.score;
        self.delta_sum += delta;
        self.abs_delta_sum += delta.abs();
        self.abs_delta_max = self.abs_delta_max.max(delta.abs());
        if old.signal == new.signal {
            self.signals_agree += 1;
        } else if self.signal_changes.len() < MAX_NAMED {
            self.signal_changes.push(SignalChange {
                symbol: symbol.to_string(),
                serving: old.into(),
                candidate: new.into(),
            });
        }
    }

    /// Adds `other`'s counts to these; the named changes stay the first ones seen.
    pub fn add(&mut self, other: &Self) {
        self.both_scored += other.both_scored;
        self.signals_agree += other.signals_agree;
        self.only_serving += other.only_serving;
        self.only_candidate += other.only_candidate;
        self.delta_sum += other.delta_sum;
        self.abs_delta_sum += other.abs_delta_sum;
        self.abs_delta_max = self.abs_delta_max.max(other.abs_delta_max);
        let room = MAX_NAMED.saturating_sub(self.signal_changes.len());
        self.signal_changes
            .extend(other.signal_changes.iter().take(room).cloned());
    }

    /// The share of symbols scored by either version on which both gave the same signal: 1
    /// when they agree everywhere; `None` when neither scored any.
    pub fn agreement(&self) -> Option<f64> {
        let scored = self.both_scored + self.only_serving + self.only_candidate;
        (scored > 0).then(|| self.signals_agree as f64 / scored as f64)
    }

    /// The candidate's mean score less the serving one's, over symbols both scored.
    pub fn mean_delta(&self) -> Option<f64> {
        (self.both_scored > 0).then(|| self.delta_sum / self.both_scored as f64)
    }

    /// The mean absolute score difference, over symbols both scored.
    pub fn mean_abs_delta(&self) -> Option<f64> {
        (self.both_scored > 0).then(|| self.abs_delta_sum / self.both_scored as f64)
    }
}

/// Cache entries of two versions of an aggregator, key by key, over one cycle or many.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntryComparison {
    /// Keys only the candidate wrote.
    pub added: u64,
    /// Keys only the serving version wrote.
    pub removed: u64,
    /// Keys both wrote with different values or TTLs.
    pub changed: u64,
    /// Keys both wrote alike.
    pub same: u64,
    /// The first keys that differ (at most [`MAX_NAMED`]), each with how.
    pub keys: Vec<KeyChange>,
}

/// One key that differs between the versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    /// The key.
    pub key: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// For a changed key, where the values first differ and a few bytes of each around it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_difference: Option<String>,
}

/// Bytes of each value shown around their first difference.
const AROUND: usize = 24;

/// Where `old` and `new` first differ, with up to [`AROUND`] bytes before and after in each
/// (or that only their TTLs differ).
fn first_difference(old: &ValidEntry, new: &ValidEntry) -> String {
    let (a, b) = (&old.value, &new.value);
    let Some(at) = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
    else {
        return format!("same value; TTL {} s, was {} s", new.ttl, old.ttl);
    };
    let around = |v: &[u8]| {
        let window = &v[at.saturating_sub(AROUND)..(at + AROUND).min(v.len())];
        String::from_utf8_lossy(window).into_owned()
    };
    format!("at byte {at}: serving {:?}, candidate {:?}", around(a), around(b))
}

impl EntryComparison {
    /// Compares the entries each version asked to write, after the host's checks.
    pub fn of(serving: &[ValidEntry], candidate: &[ValidEntry]) -> Self {
        let old: HashMap<&str, &ValidEntry> = serving.iter().map(|e| (e.key.as_str(), e)).collect();
        let new: HashMap<&str, &ValidEntry> = candidate.iter().map(|e| (e.key.as_str(), e)).collect();
        let mut comparison = Self::default();
        for entry in candidate {
            match old.get(entry.key.as_str()) {
                None => comparison.note(&entry.key, "added", None),
                Some(old) if *old != entry => comparison.note(&entry.key, "changed", Some((old, entry))),
                Some(_) => comparison.same += 1,
            }
        }
        for entry in serving.iter().filter(|e| !new.contains_key(e.key.as_str())) {
            comparison.note(&entry.key, "removed", None);
        }
        comparison
    }

    fn note(&mut self, key: &str, change: &'static str, values: Option<(&ValidEntry, &ValidEntry)>) {
        match change {
            "added" => self.added += 1,
            "removed" => self.removed += 1,
            _ => self.changed += 1,
        }
        if self.keys.len() < MAX_NAMED {
            self.keys.push(KeyChange {
                key: key.to_string(),
                change,
                first_difference: values.map(|(old, new)| first_difference(old, new)),
            });
        }
    }

    /// Adds `other`'s counts to these; the named keys stay the first ones seen.
    pub fn add(&mut self, other: &Self) {
        self.added += other.added;
        self.removed += other.removed;
        self.changed += other.changed;
        self.same += other.same;
        let room = MAX_NAMED.saturating_sub(self.keys.len());
        self.keys.extend(other.keys.iter().take(room).cloned());
    }

    /// The share of keys either version wrote that both wrote alike; `None` when neither wrote.
    pub fn agreement(&self) -> Option<f64> {
        let keys = self.added + self.removed + self.changed + self.same;
        (keys > 0).then(|| self.same as f64 / keys as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::contract::Signal;

    fn analyses(verdicts: &[Option<(f64, Signal)>]) -> Analyses {
        Analyses {
            verdicts: verdicts
                .iter()
                .map(|v| v.map(|(score, signal)| Verdict { score, signal }))
                .collect(),
            component_names: vec![],
            components: vec![],
        }
    }

    #[test]
    fn verdicts_are_compared_symbol_by_symbol() {
        let symbols: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
        let serving = analyses(&[
            Some((50.0, Signal::Neutral)),
            Some((70.0, Signal::Buy)),
            Some((10.0, Signal::StrongSell)),
            None,
        ]);
        let candidate = analyses(&[
            Some((55.0, Signal::Neutral)),
            Some((62.0, Signal::Neutral)),
            None,
            Some((1.0, Signal::Sell)),
        ]);
        let comparison = VerdictComparison::of(&symbols, &serving, &candidate);
        assert_eq!(
            (
                comparison.both_scored,
                comparison.signals_agree,
                comparison.only_serving,
                comparison.only_candidate
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(comparison.mean_delta(), Some(-1.5));
        assert_eq!(comparison.mean_abs_delta(), Some(6.5));
        assert_eq!(comparison.abs_delta_max, 8.0);
        assert_eq!(comparison.agreement(), Some(0.25));
        assert_eq!(comparison.signal_changes[0].symbol, "B");
        let seen = &comparison.signal_changes[0].candidate;
        assert_eq!((seen.signal.as_str(), seen.score), ("NEUTRAL", 62.0));

        let mut total = comparison.clone();
        total.add(&comparison);
        assert_eq!((total.both_scored, total.abs_delta_max), (4, 8.0));
        assert_eq!(total.mean_delta(), Some(-1.5));
        assert_eq!(total.signal_changes.len(), 2);
        let nothing = VerdictComparison::of(&symbols, &analyses(&[]), &analyses(&[]));
        assert_eq!((nothing.agreement(), nothing.mean_delta()), (None, None));
    }

    #[test]
    fn entries_are_compared_key_by_key_and_named_within_bounds() {
        let entry = |key: &str, value: &str| ValidEntry {
            key: key.to_string(),
            value: value.as_bytes().to_vec(),
            ttl: 10,
        };
        let serving = [entry("a", "1"), entry("b", "2"), entry("c", "3")];
        let candidate = [entry("a", "1"), entry("b", "20"), entry("d", "4")];
        let comparison = EntryComparison::of(&serving, &candidate);
        assert_eq!(
            (
                comparison.added,
                comparison.removed,
                comparison.changed,
                comparison.same
            ),
            (1, 1, 1, 1)
        );
        let named: Vec<(&str, &str)> = comparison.keys.iter().map(|k| (k.key.as_str(), k.change)).collect();
        assert_eq!(named, [("b", "changed"), ("d", "added"), ("c", "removed")]);
        assert_eq!(comparison.agreement(), Some(0.25));
        assert_eq!(
            comparison.keys[0].first_difference.as_deref(),
            Some(r#"at byte 1: serving "2", candidate "20""#)
        );
        let longer = first_difference(
            &entry("k", &"x".repeat(100)),
            &entry("k", &format!("{}y", "x".repeat(99))),
        );
        assert_eq!(
            longer,
            format!(
                "at byte 99: serving {:?}, candidate {:?}",
                "x".repeat(25),
                format!("{}y", "x".repeat(24))
            )
        );

        let many: Vec<ValidEntry> = (0..100).map(|i| entry(&format!("k{i}"), "x")).collect();
        let all_new = EntryComparison::of(&[], &many);
        assert_eq!((all_new.added, all_new.keys.len()), (100, MAX_NAMED));
    }
}
