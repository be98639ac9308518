//! Exponential moving average.

use super::{check_period, column, Indicator};

/// `e = x[0]`, then `e += α·(x − e)` with `α = 2 / (period + 1)`: seeded with the first
/// value, as pandas' `ewm(span=period, adjust=False)`. First value at the `period`-th value,
/// when the seed's weight has faded.
#[derive(Debug, Clone)]
pub struct Ema {
    /// Values it takes before it gives one.
    period: usize,
    /// `2 / (period + 1)`.
    alpha: f64,
    /// The average so far.
    value: f64,
    /// Values taken, up to `period`.
    count: usize,
}

impl Ema {
    /// An EMA over `period` values (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("ema", period, 1);
        Self {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            value: 0.0,
            count: 0,
        }
    }

    /// The average with `value` taken (finite).
    fn next(&self, value: f64) -> f64 {
        if self.count == 0 {
            value
        } else {
            self.value + self.alpha * (value - self.value)
        }
    }

    /// Whether the average gives a value once one more is taken.
    fn ready_with(&self) -> bool {
        self.count + 1 >= self.period
    }
}

impl Indicator for Ema {
    type Output = f64;
    const NONE: f64 = f64::NAN;

    fn update(&mut self, value: f64) -> f64 {
        let out = self.peek(value);
        if value.is_finite() {
            self.value = self.next(value);
            self.count = (self.count + 1).min(self.period);
        }
        out
    }

    fn peek(&self, value: f64) -> f64 {
        if value.is_finite() && self.ready_with() {
            self.next(value)
        } else {
            f64::NAN
        }
    }

    fn reset(&mut self) {
        self.value = 0.0;
        self.count = 0;
    }

    /// As [`Indicator::last`]: the same operations in the same order, so the same bits, in one
    /// loop with the average in a local and no output worked out but the last. Once seeded, every
    /// finite value moves the average the same way whatever the count, so the count is added
    /// up beside it.
    fn last(&mut self, values: &[f64]) -> f64 {
        let Some(&newest) = values.last() else {
            return f64::NAN;
        };
        let mut rest = values;
        while self.count == 0 {
            let Some((&first, tail)) = rest.split_first() else {
                break;
            };
            self.update(first);
            rest = tail;
        }
        let (alpha, mut value, mut finite) = (self.alpha, self.value, 0usize);
        let mut step = |x: f64| {
            if x.is_finite() {
                value = value + alpha * (x - value);
                finite += 1;
            }
        };
        // Four values a turn: a WebAssembly host checks its deadline once a turn, which costs
        // the average a trip through memory (docs/plugins/indicators.md).
        let mut quads = rest.chunks_exact(4);
        for quad in &mut quads {
            quad.iter().for_each(|&x| step(x));
        }
        quads.remainder().iter().for_each(|&x| step(x));
        self.value = value;
        self.count = (self.count + finite).min(self.period);
        match newest.is_finite() && self.count == self.period {
            true => self.value,
            false => f64::NAN,
        }
    }
}

/// [`Ema`] down a column.
pub fn ema(values: &[f64], period: usize) -> Vec<f64> {
    column(Ema::new(period), values)
}
