//! Indicators over a column of prices (or of candles' highs, lows and closes), oldest first,
//! that give the same bits in Rust, JavaScript and Python: every SDK runs the same IEEE-754
//! operations in the same order, with its own `ln` ([`crate::math`]) and no built-in `sum`,
//! `max` or `min`. `docs/plugins/indicators.md` gives each one's formula and warm-up.
//!
//! Each comes twice:
//! - a **batch** function over a whole column, giving a column as long, NaN where there is no
//!   value yet (`rsi(&closes, 14)`);
//! - a **streaming** type ([`Rsi`]) with `update` (O(1): the next value in, its output out),
//!   `peek` (the output `update` would give, without taking the value: for the candle still
//!   forming) and `reset`. The batch function is the streaming type run down the column, so
//!   the two agree bit for bit.
//!
//! A value that is not finite (NaN, ±∞) is a **gap**: its output is NaN. An indicator with a
//! window (SMA, Bollinger bands, standard deviation, realised volatility, rate of change,
//! rolling maximum and minimum) starts again after a gap, so it gives NaN until its window is
//! full of values from after it; one that smooths (EMA, RSI, ATR, MACD) carries on from the
//! last value before it. A period below 1 (below 2 for realised volatility) is refused with a
//! panic, as an index out of range is: check a configured period in `init`.
//!
//! Feed a candle series' closed candles (`market.candles(Timeframe::M1, i)`, without the
//! forming one) to `update`, and the forming one to `peek`.

mod bollinger;
mod deviation;
mod ema;
mod extremes;
mod macd;
mod range;
mod roc;
mod rsi;
mod sma;
mod window;

pub use bollinger::{bollinger, BandColumns, Bands, Bollinger};
pub use deviation::{realised_volatility, rolling_std, RealisedVolatility, RollingStd};
pub use ema::{ema, Ema};
pub use extremes::{rolling_max, rolling_min, RollingMax, RollingMin};
pub use macd::{macd, Macd, MacdColumns, MacdValue};
pub use range::{atr, true_range, Atr, TrueRange};
pub use roc::{roc, Roc};
pub use rsi::{rsi, Rsi};
pub use sma::{sma, Sma};

/// A streaming indicator over one column.
pub trait Indicator {
    /// What it gives for each value: a number, or a few (MACD, Bollinger bands).
    type Output: Copy;
    /// The output where there is none (NaN in every field).
    const NONE: Self::Output;
    /// Takes the next value and gives its output.
    fn update(&mut self, value: f64) -> Self::Output;
    /// The output `update(value)` would give, leaving the indicator as it is.
    fn peek(&self, value: f64) -> Self::Output;
    /// Forgets every value taken, as if just made.
    fn reset(&mut self);
    /// Takes every value of `values` in turn and gives the last one's output: the
    /// indicator's value at the end of a column, without a column of outputs.
    fn last(&mut self, values: &[f64]) -> Self::Output {
        values.iter().fold(Self::NONE, |_, &v| self.update(v))
    }
}

/// Panics unless `period` is at least `least`, naming the indicator.
fn check_period(indicator: &str, period: usize, least: usize) {
    assert!(
        period >= least,
        "{indicator}: the period must be at least {least}, not {period}"
    );
}

/// The batch form of a one-number indicator: `indicator` run down `values`.
fn column<I: Indicator<Output = f64>>(mut indicator: I, values: &[f64]) -> Vec<f64> {
    values.iter().map(|&v| indicator.update(v)).collect()
}
