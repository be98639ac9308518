//! One version's verdicts of one sample time, scored against the symbols' forward returns:
//! the figures of that one sample time, which [`super::tally`] adds up over many.
//!
//! Every sum runs in the sample's symbol order, so the same verdicts and prices give the same
//! figures to the last bit, live and in a replay.

use std::cmp::Ordering;

use crate::shared::evidence::CLASSES;

/// Fewest symbols with both a verdict and a forward return for a sample time to have a rank
/// IC and a top-minus-bottom spread: with five, each fifth is one symbol.
pub(super) const MIN_SYMBOLS: usize = 5;

/// Basis points in one.
const BPS: f64 = 10_000.0;

/// One version's verdicts at one sample time, as kept: `scores[i]` NaN where symbol `i` got no
/// verdict, `signals[i]` its class's index in [`CLASSES`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Verdicts {
    /// Each symbol's score, NaN for none (`null` when saved, as JSON has no NaN).
    #[serde(with = "nan_as_null")]
    pub(super) scores: Vec<f64>,
    /// Each symbol's signal class.
    pub(super) signals: Vec<u8>,
}

impl Verdicts {
    /// Whether these are `n` symbols' verdicts, each score in 0..100 or none and each class one
    /// of [`CLASSES`]: what a saved sample must hold to be taken back.
    pub(super) fn holds(&self, n: usize) -> bool {
        self.scores.len() == n
            && self.signals.len() == n
            && self.scores.iter().all(|s| s.is_nan() || (0.0..=100.0).contains(s))
            && self.signals.iter().all(|c| usize::from(*c) < CLASSES.len())
    }
}

/// The figures of one sample time.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct SampleScore {
    /// Spearman's correlation between score and forward return; `None` with fewer than
    /// [`MIN_SYMBOLS`] symbols scored, or when all scores or all returns are equal.
    pub(super) rank_ic: Option<f64>,
    /// The top fifth's mean forward return less the bottom fifth's, in basis points; `None`
    /// when the rank IC is.
    pub(super) spread_bps: Option<f64>,
    /// Directional verdicts whose symbol moved their way.
    pub(super) hits: u64,
    /// Directional verdicts scored.
    pub(super) directional: u64,
    /// Per class, the sum of forward returns in basis points and the verdicts.
    pub(super) classes: [(f64, u64); CLASSES.len()],
    /// Symbols with a verdict.
    pub(super) covered: u64,
    /// Symbols sampled.
    pub(super) offered: u64,
}

/// Scores saved with `null` for NaN, which JSON cannot hold.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(scores: &[f64], out: S) -> Result<S::Ok, S::Error> {
        let scores: Vec<Option<f64>> = scores.iter().map(|s| (!s.is_nan()).then_some(*s)).collect();
        scores.serialize(out)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<f64>, D::Error> {
        let scores = Vec::<Option<f64>>::deserialize(input)?;
        Ok(scores.into_iter().map(|s| s.unwrap_or(f64::NAN)).collect())
    }
}

/// Scores `verdicts` against `returns` (each sampled symbol's forward return, `None` where it
/// has no forward price).
pub(super) fn score(verdicts: &Verdicts, returns: &[Option<f64>]) -> SampleScore {
    let mut out = SampleScore {
        offered: returns.len() as u64,
        ..SampleScore::default()
    };
    // (score, return, symbol) of every symbol with both, in the sample's order.
    let mut scored: Vec<(f64, f64, usize)> = Vec::with_capacity(returns.len());
    for (i, ret) in returns.iter().enumerate() {
        let score = verdicts.scores[i];
        if score.is_nan() {
            continue;
        }
        out.covered += 1;
        let Some(ret) = *ret else {
            continue;
        };
        scored.push((score, ret, i));
        let class = usize::from(verdicts.signals[i]);
        out.classes[class].0 += ret * BPS;
        out.classes[class].1 += 1;
        let (buy, sell) = (class < 2, class > 2);
        if buy || sell {
            out.directional += 1;
            if (buy && ret > 0.0) || (sell && ret < 0.0) {
                out.hits += 1;
            }
        }
    }
    if scored.len() >= MIN_SYMBOLS {
        out.rank_ic = spearman(&scored);
        if out.rank_ic.is_some() {
            out.spread_bps = Some(top_minus_bottom(&mut scored));
        }
    }
    out
}

/// Spearman's rank correlation of the scores and returns: Pearson's correlation of their ranks,
/// tied values sharing their mean rank. `None` when either side has no spread.
fn spearman(scored: &[(f64, f64, usize)]) -> Option<f64> {
    let a = ranks(scored.iter().map(|s| s.0));
    let b = ranks(scored.iter().map(|s| s.1));
    let n = a.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        let (dx, dy) = (x - mean, y - mean);
        ab += dx * dy;
        aa += dx * dx;
        bb += dy * dy;
    }
    (aa > 0.0 && bb > 0.0).then(|| ab / (aa * bb).sqrt())
}

/// Each value's rank from 1, in the input's order; equal values share the mean of their ranks.
fn ranks(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let values: Vec<f64> = values.collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean.
        let shared = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = shared;
        }
        start = end;
    }
    ranks
}

/// The mean forward return of the top fifth by score less the bottom fifth's, in basis points.
/// A fifth is `n / 5` symbols, rounded down; equal scores are ordered by the sample's symbol
/// order (largest 24 h turnover first), so a tie at the edge of a fifth is settled the same way
/// every time.
fn top_minus_bottom(scored: &mut [(f64, f64, usize)]) -> f64 {
    scored.sort_by(|a, b| match b.0.total_cmp(&a.0) {
        Ordering::Equal => a.2.cmp(&b.2),
        other => other,
    });
    let fifth = scored.len() / 5;
    let mean = |part: &[(f64, f64, usize)]| part.iter().map(|s| s.1).sum::<f64>() / part.len() as f64;
    (mean(&scored[..fifth]) - mean(&scored[scored.len() - fifth..])) * BPS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(scores: &[f64]) -> Verdicts {
        let signals = scores
            .iter()
            .map(|&s| match s {
                s if s >= 80.0 => 0,
                s if s >= 60.0 => 1,
                s if s <= 20.0 => 4,
                s if s <= 40.0 => 3,
                _ => 2,
            })
            .collect();
        Verdicts {
            scores: scores.to_vec(),
            signals,
        }
    }

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(ranks([3.0, 1.0, 3.0, 2.0].into_iter()), [3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn a_perfect_ranking_scores_one_and_its_mirror_minus_one() {
        let returns: Vec<Option<f64>> = [-0.02, -0.01, 0.0, 0.01, 0.02, 0.03].iter().map(|r| Some(*r)).collect();
        let up = score(&verdicts(&[10.0, 30.0, 50.0, 65.0, 85.0, 90.0]), &returns);
        assert_eq!(up.rank_ic, Some(1.0));
        // Six symbols: a fifth is one; the top returned 3 %, the bottom -2 %.
        assert!((up.spread_bps.unwrap() - 500.0).abs() < 1e-9, "{up:?}");
        // Buys on 1 %, 2 % and 3 %, sells on -1 % and -2 %: all five hit; 0 % is neutral.
        assert_eq!((up.hits, up.directional), (5, 5));
        assert_eq!(up.classes[2], (0.0, 1));
        let down = score(&verdicts(&[90.0, 85.0, 65.0, 50.0, 30.0, 10.0]), &returns);
        assert_eq!(down.rank_ic, Some(-1.0));
        assert_eq!((down.hits, down.directional), (0, 5));
    }

    #[test]
    fn missing_verdicts_and_prices_are_left_out_and_counted() {
        let returns = [
            Some(0.01),
            None,
            Some(0.02),
            Some(-0.01),
            Some(0.0),
            Some(0.03),
            Some(0.04),
        ];
        let scored = score(&verdicts(&[50.0, 60.0, f64::NAN, 40.0, 45.0, 55.0, 70.0]), &returns);
        assert_eq!((scored.covered, scored.offered), (6, 7));
        // The symbol without a forward price and the one without a verdict are left out: five remain.
        assert!(scored.rank_ic.is_some());
        let constant = score(&verdicts(&[50.0; 7]), &returns);
        assert_eq!((constant.rank_ic, constant.spread_bps), (None, None));
        let few = score(
            &verdicts(&[50.0, 60.0, 70.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN]),
            &returns,
        );
        assert_eq!(few.rank_ic, None, "two symbols scored have no rank IC");
    }
}
