//! The figures of many sample times added up: what one version has shown at one horizon since
//! it was loaded, kept as sums (and saved as such for a warm restart), read as
//! [`Figures`].

use serde::{Deserialize, Serialize};

use super::score::SampleScore;
use crate::shared::contract::signal_name;
use crate::shared::evidence::{ClassReturn, Estimate, Figures, CLASSES};

/// A running mean and variance (Welford's update, in the order the values come).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Running {
    /// Values taken.
    n: u64,
    /// Their mean.
    mean: f64,
    /// The sum of squared deviations from the mean.
    m2: f64,
}

impl Running {
    /// Takes one more value.
    pub(super) fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The mean with its standard error.
    pub(super) fn estimate(&self) -> Estimate {
        Estimate {
            mean: (self.n > 0).then_some(self.mean),
            stderr: (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64 / self.n as f64).sqrt()),
            samples: self.n,
        }
    }
}

/// One version's sums at one horizon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Tally {
    /// Sample times scored.
    samples: u64,
    /// Sample times whose forward price came too late.
    expired: u64,
    /// The first and last sample time scored.
    span_ms: Option<(i64, i64)>,
    /// Each sample time's rank IC.
    rank_ic: Running,
    /// Each sample time's top-minus-bottom spread.
    spread_bps: Running,
    /// Directional verdicts that hit, and all of them.
    hits: (u64, u64),
    /// Per class, the sum of forward returns in basis points and the verdicts.
    classes: [(f64, u64); CLASSES.len()],
    /// Symbols with a verdict, and symbols sampled.
    coverage: (u64, u64),
}

impl Tally {
    /// Adds the figures of the sample time `at_ms`.
    pub(super) fn add(&mut self, at_ms: i64, score: &SampleScore) {
        self.samples += 1;
        self.span_ms = Some(self.span_ms.map_or((at_ms, at_ms), |(first, _)| (first, at_ms)));
        if let Some(ic) = score.rank_ic {
            self.rank_ic.push(ic);
        }
        if let Some(spread) = score.spread_bps {
            self.spread_bps.push(spread);
        }
        self.hits.0 += score.hits;
        self.hits.1 += score.directional;
        for (sum, one) in self.classes.iter_mut().zip(&score.classes) {
            sum.0 += one.0;
            sum.1 += one.1;
        }
        self.coverage.0 += score.covered;
        self.coverage.1 += score.offered;
    }

    /// Counts a sample time whose forward price came too late.
    pub(super) fn expire(&mut self) {
        self.expired += 1;
    }

    /// The figures, labelled with the horizon.
    pub(super) fn figures(&self, horizon: &str, horizon_s: u64) -> Figures {
        let share = |(part, whole): (u64, u64)| (whole > 0).then(|| part as f64 / whole as f64);
        Figures {
            horizon: horizon.to_string(),
            horizon_s,
            samples: self.samples,
            expired: self.expired,
            first_sample_ms: self.span_ms.map(|s| s.0),
            last_sample_ms: self.span_ms.map(|s| s.1),
            rank_ic: self.rank_ic.estimate(),
            hit_rate: share(self.hits),
            directional: self.hits.1,
            mean_return_bps: CLASSES
                .iter()
                .zip(&self.classes)
                .map(|(signal, (sum, n))| ClassReturn {
                    signal: signal_name(*signal).to_string(),
                    mean_bps: (*n > 0).then(|| sum / *n as f64),
                    verdicts: *n,
                })
                .collect(),
            top_minus_bottom_bps: self.spread_bps.estimate(),
            coverage: share(self.coverage),
        }
    }
}

/// A shadow and the serving version on the sample times both were scored at, at one horizon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct PairTally {
    /// The shadow's sums.
    pub(super) shadow: Tally,
    /// The serving version's sums on the same sample times.
    pub(super) serving: Tally,
    /// The shadow's rank IC less the serving version's, sample time by sample time.
    pub(super) rank_ic_difference: Running,
}

impl PairTally {
    /// Adds one sample time both versions were scored at. A rank IC (and spread) counts on
    /// either side only where both have one, so the two means and their difference are over
    /// the same sample times.
    pub(super) fn add(&mut self, at_ms: i64, shadow: &SampleScore, serving: &SampleScore) {
        let both = shadow.rank_ic.is_some() && serving.rank_ic.is_some();
        let paired = |one: &SampleScore| SampleScore {
            rank_ic: one.rank_ic.filter(|_| both),
            spread_bps: one.spread_bps.filter(|_| both),
            ..one.clone()
        };
        self.shadow.add(at_ms, &paired(shadow));
        self.serving.add(at_ms, &paired(serving));
        if let (Some(a), Some(b)) = (shadow.rank_ic, serving.rank_ic) {
            self.rank_ic_difference.push(a - b);
        }
    }

    /// Counts a sample time both versions were taken at whose forward price came too late.
    pub(super) fn expire(&mut self) {
        self.shadow.expire();
        self.serving.expire();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_error_is_the_spread_over_the_root_of_the_count() {
        let mut running = Running::default();
        for x in [1.0, 2.0, 3.0, 4.0] {
            running.push(x);
        }
        let e = running.estimate();
        assert_eq!((e.mean, e.samples), (Some(2.5), 4));
        // Sample variance 5/3, over 4 samples.
        assert!((e.stderr.unwrap() - (5.0f64 / 3.0 / 4.0).sqrt()).abs() < 1e-12);
        assert_eq!(Running::default().estimate().mean, None);
    }
}
