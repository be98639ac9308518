//! Moving average convergence divergence.

use super::{check_period, Ema, Indicator};

/// MACD's three figures for one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    /// The fast EMA less the slow one.
    pub macd: f64,
    /// The EMA of `macd` over the signal period.
    pub signal: f64,
    /// `macd − signal`.
    pub histogram: f64,
}

/// MACD's three columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MacdColumns {
    /// The fast EMA less the slow one.
    pub macd: Vec<f64>,
    /// The EMA of `macd` over the signal period.
    pub signal: Vec<f64>,
    /// `macd − signal`.
    pub histogram: Vec<f64>,
}

/// MACD: the [`Ema`] over `fast` values less the one over `slow`, first given when both are;
/// the signal line is the EMA over `signal` of those MACD values, and the histogram the MACD
/// less the signal. MACD's first value is at the `max(fast, slow)`-th value, the signal's
/// `signal − 1` values later.
#[derive(Debug, Clone)]
pub struct Macd {
    /// The fast and slow averages of the values.
    fast: Ema,
    slow: Ema,
    /// The average of the MACD values.
    signal: Ema,
}

impl Macd {
    /// A MACD with these periods (each at least 1), such as 12, 26 and 9.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        check_period("macd (fast)", fast, 1);
        check_period("macd (slow)", slow, 1);
        check_period("macd (signal)", signal, 1);
        Self {
            fast: Ema::new(fast),
            slow: Ema::new(slow),
            signal: Ema::new(signal),
        }
    }

    /// The MACD value with `value` taken, or NaN before both averages give one.
    fn line(&self, value: f64) -> f64 {
        self.fast.peek(value) - self.slow.peek(value)
    }
}

impl Indicator for Macd {
    type Output = MacdValue;
    const NONE: MacdValue = MacdValue {
        macd: f64::NAN,
        signal: f64::NAN,
        histogram: f64::NAN,
    };

    fn update(&mut self, value: f64) -> MacdValue {
        let macd = self.line(value);
        self.fast.update(value);
        self.slow.update(value);
        if macd.is_nan() {
            return Self::NONE;
        }
        let signal = self.signal.update(macd);
        MacdValue {
            macd,
            signal,
            histogram: macd - signal,
        }
    }

    fn peek(&self, value: f64) -> MacdValue {
        let macd = self.line(value);
        if macd.is_nan() {
            return Self::NONE;
        }
        let signal = self.signal.peek(macd);
        MacdValue {
            macd,
            signal,
            histogram: macd - signal,
        }
    }

    fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }
}

/// [`Macd`] down a column.
pub fn macd(values: &[f64], fast: usize, slow: usize, signal: usize) -> MacdColumns {
    let mut macd = Macd::new(fast, slow, signal);
    let mut out = MacdColumns::default();
    for &v in values {
        let m = macd.update(v);
        out.macd.push(m.macd);
        out.signal.push(m.signal);
        out.histogram.push(m.histogram);
    }
    out
}
