//! Verdicts scored against what the market did next, as the status shows them: for one
//! analyzer version, per horizon, the rank information coefficient, the hit rate of its
//! directional signals, the mean forward return per signal class, the top-minus-bottom spread
//! and its coverage (docs/strategy-updates.md defines each one). The evaluation stage computes
//! them; the status stage shows them; `pulse promote --if-better` reads them back.

use serde::{Deserialize, Serialize};

use crate::shared::contract::Signal;

/// The signal classes, in the order their figures are kept and shown.
pub const CLASSES: [Signal; 5] = [
    Signal::StrongBuy,
    Signal::Buy,
    Signal::Neutral,
    Signal::Sell,
    Signal::StrongSell,
];

/// Where `signal` is in [`CLASSES`].
pub fn class_index(signal: Signal) -> usize {
    match signal {
        Signal::StrongBuy => 0,
        Signal::Buy => 1,
        Signal::Neutral => 2,
        Signal::Sell => 3,
        Signal::StrongSell => 4,
    }
}

/// A mean over sample times, with its standard error: the figure and how far to trust it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The mean; `null` before the first sample.
    pub mean: Option<f64>,
    /// The sample standard deviation over the square root of `samples`; `null` below two.
    pub stderr: Option<f64>,
    /// Sample times the mean is over.
    pub samples: u64,
}

/// The mean forward return of one signal class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassReturn {
    /// `strong_buy`, `buy`, `neutral`, `sell` or `strong_sell`.
    pub signal: String,
    /// Mean forward return of the verdicts of this class, in basis points; `null` with none.
    pub mean_bps: Option<f64>,
    /// Verdicts of this class scored.
    pub verdicts: u64,
}

/// One version's figures at one horizon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The horizon, as configured (`5m`).
    pub horizon: String,
    /// The horizon in seconds.
    pub horizon_s: u64,
    /// Sample times scored at this horizon.
    pub samples: u64,
    /// Sample times not scored because no fresh snapshot came within the tolerance after the
    /// horizon (the source failed, or the daemon was stopped).
    pub expired: u64,
    /// The first and last sample time scored, ms since the Unix epoch: the range the figures
    /// are defined over.
    pub first_sample_ms: Option<i64>,
    /// See `first_sample_ms`.
    pub last_sample_ms: Option<i64>,
    /// Spearman's rank correlation across symbols between score and forward return, averaged
    /// over sample times.
    pub rank_ic: Estimate,
    /// Share of directional verdicts (buy and strong buy, sell and strong sell) whose symbol
    /// then moved their way; `null` without any.
    pub hit_rate: Option<f64>,
    /// Directional verdicts scored.
    pub directional: u64,
    /// Mean forward return per signal class.
    pub mean_return_bps: Vec<ClassReturn>,
    /// Mean forward return of the top fifth of symbols by score less that of the bottom
    /// fifth, in basis points, averaged over sample times.
    pub top_minus_bottom_bps: Estimate,
    /// Share of the symbols sampled that got a verdict.
    pub coverage: Option<f64>,
}

/// A shadow's figures beside the serving version's, on the same samples, at one horizon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairedFigures {
    /// The horizon, as configured.
    pub horizon: String,
    /// The shadow's figures on the sample times both versions were scored at.
    pub shadow: Figures,
    /// The serving version's figures on the same sample times.
    pub serving: Figures,
    /// The shadow's rank IC less the serving version's, sample time by sample time: its mean
    /// and standard error say whether the shadow is better by more than the noise.
    pub rank_ic_difference: Estimate,
}
