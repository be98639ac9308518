//! Wilder's relative strength index.

use super::{check_period, column, Indicator};
use crate::math::larger;

/// Wilder's RSI over `period` changes, 0 to 100. The first average gain and loss are the
/// means of the first `period` changes; after that each is smoothed,
/// `avg = (avg·(n − 1) + gain) / n`. RSI is `100 − 100 / (1 + avg_gain / avg_loss)`, 100 when
/// there was no loss, 50 when neither. First value at the `period + 1`-th value.
#[derive(Debug, Clone)]
pub struct Rsi {
    /// Changes averaged.
    period: usize,
    /// The last value taken (NaN before the first).
    prev: f64,
    /// Changes taken, up to `period + 1`.
    count: usize,
    /// Sums of the first `period` gains and losses, then Wilder's averages of them.
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// An RSI over `period` changes (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("rsi", period, 1);
        Self {
            period,
            prev: f64::NAN,
            count: 0,
            gain: 0.0,
            loss: 0.0,
        }
    }

    /// The gains and losses with `value` taken (finite, after a first), and the output.
    fn step(&self, value: f64) -> (f64, f64, f64) {
        let n = self.period as f64;
        let d = value - self.prev;
        let count = self.count + 1;
        let (gain, loss) = if count <= self.period {
            let (gain, loss) = if d > 0.0 {
                (self.gain + d, self.loss)
            } else {
                (self.gain, self.loss - d)
            };
            if count == self.period {
                (gain / n, loss / n)
            } else {
                (gain, loss)
            }
        } else {
            (
                (self.gain * (n - 1.0) + larger(d, 0.0)) / n,
                (self.loss * (n - 1.0) + larger(-d, 0.0)) / n,
            )
        };
        let out = if count < self.period {
            f64::NAN
        } else {
            strength(gain, loss)
        };
        (gain, loss, out)
    }
}

impl Indicator for Rsi {
    type Output = f64;
    const NONE: f64 = f64::NAN;

    fn update(&mut self, value: f64) -> f64 {
        if !value.is_finite() {
            return f64::NAN;
        }
        if self.prev.is_nan() {
            self.prev = value;
            return f64::NAN;
        }
        let (gain, loss, out) = self.step(value);
        self.prev = value;
        self.count = (self.count + 1).min(self.period + 1);
        self.gain = gain;
        self.loss = loss;
        out
    }

    fn peek(&self, value: f64) -> f64 {
        if !value.is_finite() || self.prev.is_nan() {
            return f64::NAN;
        }
        self.step(value).2
    }

    fn reset(&mut self) {
        *self = Self::new(self.period);
    }

    /// As [`Indicator::last`]: the same operations in the same order, so the same bits. The
    /// first values, until the first averages, are taken by `update`; the rest in one loop with
    /// the averages in locals, and only the last value's output is worked out.
    // Out of line: inlined into a large analysis, its averages went through memory at every
    // value in WebAssembly (BENCHMARKS.md, issue 36).
    #[inline(never)]
    fn last(&mut self, values: &[f64]) -> f64 {
        let mut out = f64::NAN;
        let mut rest = values;
        while self.count < self.period {
            let Some((&first, tail)) = rest.split_first() else {
                return out;
            };
            out = self.update(first);
            rest = tail;
        }
        let Some(&newest) = rest.last() else {
            return out;
        };
        let n = self.period as f64;
        let (mut prev, mut gain, mut loss, mut moved) = (self.prev, self.gain, self.loss, false);
        let mut step = |x: f64| {
            if x.is_finite() {
                let d = x - prev;
                gain = (gain * (n - 1.0) + larger(d, 0.0)) / n;
                loss = (loss * (n - 1.0) + larger(-d, 0.0)) / n;
                prev = x;
                moved = true;
            }
        };
        // Four values a turn, as `Ema::last` (docs/plugins/indicators.md).
        let mut quads = rest.chunks_exact(4);
        for quad in &mut quads {
            quad.iter().for_each(|&x| step(x));
        }
        quads.remainder().iter().for_each(|&x| step(x));
        (self.prev, self.gain, self.loss) = (prev, gain, loss);
        if moved {
            self.count = self.period + 1;
        }
        match newest.is_finite() {
            true => strength(gain, loss),
            false => f64::NAN,
        }
    }
}

/// RSI from Wilder's average gain and loss.
fn strength(gain: f64, loss: f64) -> f64 {
    if loss == 0.0 {
        if gain == 0.0 {
            50.0
        } else {
            100.0
        }
    } else {
        100.0 - 100.0 / (1.0 + gain / loss)
    }
}

/// [`Rsi`] down a column.
pub fn rsi(values: &[f64], period: usize) -> Vec<f64> {
    column(Rsi::new(period), values)
}
