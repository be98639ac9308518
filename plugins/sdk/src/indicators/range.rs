//! True range and Wilder's average true range, over candles' highs, lows and closes.

use super::check_period;
use crate::math::larger;

/// A candle's true range: the largest of `high − low`, `|high − previous close|` and
/// `|low − previous close|`; the first candle's is `high − low`. A candle with a high, low or
/// close that is not finite is a gap: NaN, and the next range is measured from the close
/// before it.
#[derive(Debug, Clone)]
pub struct TrueRange {
    /// The last close taken (NaN before the first).
    prev_close: f64,
}

impl Default for TrueRange {
    fn default() -> Self {
        Self::new()
    }
}

impl TrueRange {
    /// A true range that has seen no candle.
    pub fn new() -> Self {
        Self { prev_close: f64::NAN }
    }

    /// Takes the next candle and gives its true range.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> f64 {
        let out = self.peek(high, low, close);
        if !out.is_nan() {
            self.prev_close = close;
        }
        out
    }

    /// The true range `update` would give, leaving this as it is.
    pub fn peek(&self, high: f64, low: f64, close: f64) -> f64 {
        if !(high.is_finite() && low.is_finite() && close.is_finite()) {
            return f64::NAN;
        }
        let range = high - low;
        if self.prev_close.is_nan() {
            range
        } else {
            larger(
                larger(range, (high - self.prev_close).abs()),
                (low - self.prev_close).abs(),
            )
        }
    }

    /// Forgets the previous close.
    pub fn reset(&mut self) {
        self.prev_close = f64::NAN;
    }

    /// Takes every candle in turn and gives the last one's true range (NaN for none).
    pub fn last(&mut self, high: &[f64], low: &[f64], close: &[f64]) -> f64 {
        let mut out = f64::NAN;
        for i in 0..high.len().min(low.len()).min(close.len()) {
            out = self.update(high[i], low[i], close[i]);
        }
        out
    }

    /// Whether a candle has been taken (its close is the previous one).
    fn started(&self) -> bool {
        !self.prev_close.is_nan()
    }
}

/// Wilder's average true range over `period` candles. Only true ranges with a previous close
/// count: the first ATR is the mean of the true ranges of candles 2 to `period + 1`, then
/// `atr = (atr·(n − 1) + tr) / n`. First value at the `period + 1`-th candle.
#[derive(Debug, Clone)]
pub struct Atr {
    /// True ranges averaged.
    period: usize,
    /// The true range of each candle.
    range: TrueRange,
    /// Ranges counted, up to `period + 1`.
    count: usize,
    /// The sum of the first `period` ranges, then the average.
    value: f64,
}

impl Atr {
    /// An ATR over `period` candles (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("atr", period, 1);
        Self {
            period,
            range: TrueRange::new(),
            count: 0,
            value: 0.0,
        }
    }

    /// The sum or average with the true range `tr` counted, and the output.
    fn step(&self, tr: f64) -> (f64, f64) {
        let n = self.period as f64;
        let count = self.count + 1;
        let value = if count < self.period {
            self.value + tr
        } else if count == self.period {
            (self.value + tr) / n
        } else {
            (self.value * (n - 1.0) + tr) / n
        };
        (value, if count < self.period { f64::NAN } else { value })
    }

    /// Takes the next candle and gives the ATR.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> f64 {
        let counted = self.range.started();
        let tr = self.range.update(high, low, close);
        if tr.is_nan() || !counted {
            return f64::NAN;
        }
        let (value, out) = self.step(tr);
        self.count = (self.count + 1).min(self.period + 1);
        self.value = value;
        out
    }

    /// The ATR `update` would give, leaving this as it is.
    pub fn peek(&self, high: f64, low: f64, close: f64) -> f64 {
        let tr = self.range.peek(high, low, close);
        if tr.is_nan() || !self.range.started() {
            return f64::NAN;
        }
        self.step(tr).1
    }

    /// Forgets every candle taken.
    pub fn reset(&mut self) {
        *self = Self::new(self.period);
    }

    /// Takes every candle in turn and gives the ATR after the last (NaN for none).
    pub fn last(&mut self, high: &[f64], low: &[f64], close: &[f64]) -> f64 {
        let mut out = f64::NAN;
        for i in 0..high.len().min(low.len()).min(close.len()) {
            out = self.update(high[i], low[i], close[i]);
        }
        out
    }
}

/// [`TrueRange`] down the columns (as long as the shortest).
pub fn true_range(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    let mut range = TrueRange::new();
    (0..high.len().min(low.len()).min(close.len()))
        .map(|i| range.update(high[i], low[i], close[i]))
        .collect()
}

/// [`Atr`] down the columns (as long as the shortest).
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Vec<f64> {
    let mut atr = Atr::new(period);
    (0..high.len().min(low.len()).min(close.len()))
        .map(|i| atr.update(high[i], low[i], close[i]))
        .collect()
}
