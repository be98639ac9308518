//! Rate of change.

use super::window::Window;
use super::{check_period, column, Indicator};

/// The change over `period` values, in percent: `(x[t] − x[t−n]) / x[t−n] · 100` (±∞ or NaN
/// when `x[t−n]` is 0, as the division gives). First value at the `period + 1`-th value.
#[derive(Debug, Clone)]
pub struct Roc {
    /// The last `period` values: the oldest is `x[t−n]` for the next one.
    window: Window,
}

impl Roc {
    /// A rate of change over `period` values (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("roc", period, 1);
        Self {
            window: Window::new(period),
        }
    }
}

impl Indicator for Roc {
    type Output = f64;
    const NONE: f64 = f64::NAN;

    fn update(&mut self, value: f64) -> f64 {
        if !value.is_finite() {
            self.reset();
            return f64::NAN;
        }
        let out = self.peek(value);
        self.window.push(value);
        out
    }

    fn peek(&self, value: f64) -> f64 {
        match self.window.oldest() {
            Some(old) if value.is_finite() => (value - old) / old * 100.0,
            _ => f64::NAN,
        }
    }

    fn reset(&mut self) {
        self.window.clear();
    }
}

/// [`Roc`] down a column.
pub fn roc(values: &[f64], period: usize) -> Vec<f64> {
    column(Roc::new(period), values)
}
