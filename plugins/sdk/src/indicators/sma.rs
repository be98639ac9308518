//! Simple moving average.

use super::window::Window;
use super::{check_period, column, Indicator};

/// The mean of the last `period` values: `(x[t-n+1] + … + x[t]) / n`. First value at the
/// `period`-th value.
#[derive(Debug, Clone)]
pub struct Sma {
    /// The last `period` values.
    window: Window,
    /// Their sum.
    sum: f64,
}

impl Sma {
    /// An SMA over `period` values (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("sma", period, 1);
        Self {
            window: Window::new(period),
            sum: 0.0,
        }
    }

    /// The sum with `value` taken, and the output.
    fn step(&self, value: f64) -> (f64, f64) {
        let sum = self.window.sum_with(self.sum, value);
        let out = if self.window.full_with() {
            sum / self.window.len() as f64
        } else {
            f64::NAN
        };
        (sum, out)
    }
}

impl Indicator for Sma {
    type Output = f64;
    const NONE: f64 = f64::NAN;

    fn update(&mut self, value: f64) -> f64 {
        if !value.is_finite() {
            self.reset();
            return f64::NAN;
        }
        let (sum, out) = self.step(value);
        self.window.push(value);
        self.sum = sum;
        out
    }

    fn peek(&self, value: f64) -> f64 {
        if !value.is_finite() {
            return f64::NAN;
        }
        self.step(value).1
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
    }
}

/// [`Sma`] down a column.
pub fn sma(values: &[f64], period: usize) -> Vec<f64> {
    column(Sma::new(period), values)
}
