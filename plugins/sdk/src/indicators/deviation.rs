//! Rolling standard deviation, and realised volatility (the deviation of log returns).

use super::window::{Spread, Window};
use super::{check_period, column, Indicator};
use crate::math::ln;

/// The population standard deviation of the last `period` values,
/// `√(Σ(x − mean)² / n)`, kept with Welford's method. First value at the `period`-th value.
#[derive(Debug, Clone)]
pub struct RollingStd {
    /// The last `period` values.
    window: Window,
    /// Their spread.
    spread: Spread,
}

impl RollingStd {
    /// A deviation over `period` values (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("rolling_std", period, 1);
        Self {
            window: Window::new(period),
            spread: Spread::default(),
        }
    }

    /// The spread with `value` taken, and the output.
    fn step(&self, value: f64) -> (Spread, f64) {
        let spread = self.window.spread_with(self.spread, value);
        let out = if self.window.full_with() {
            (spread.squares() / self.window.len() as f64).sqrt()
        } else {
            f64::NAN
        };
        (spread, out)
    }
}

impl Indicator for RollingStd {
    type Output = f64;
    const NONE: f64 = f64::NAN;

    fn update(&mut self, value: f64) -> f64 {
        if !value.is_finite() {
            self.reset();
            return f64::NAN;
        }
        let (spread, out) = self.step(value);
        self.window.push(value);
        self.spread = spread;
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
        self.spread = Spread::default();
    }
}

/// Realised volatility: the sample standard deviation (divided by `period − 1`) of the last
/// `period` log returns `ln(x[t] / x[t−1])`, in percent. A price that is not both finite and
/// above 0 is a gap; a return that is not finite restarts the window from its price. First
/// value at the `period + 1`-th price.
#[derive(Debug, Clone)]
pub struct RealisedVolatility {
    /// The last price taken since the last gap (NaN for none).
    prev: f64,
    /// The last `period` returns.
    window: Window,
    /// Their spread.
    spread: Spread,
}

impl RealisedVolatility {
    /// A volatility over `period` returns (at least 2).
    pub fn new(period: usize) -> Self {
        check_period("realised_volatility", period, 2);
        Self {
            prev: f64::NAN,
            window: Window::new(period),
            spread: Spread::default(),
        }
    }

    /// The return to `price`, if both it and the previous price are usable.
    fn log_return(&self, price: f64) -> Option<f64> {
        let r = ln(price / self.prev);
        (price.is_finite() && price > 0.0 && r.is_finite()).then_some(r)
    }

    /// The spread with the return `r` taken, and the output.
    fn step(&self, r: f64) -> (Spread, f64) {
        let spread = self.window.spread_with(self.spread, r);
        let out = if self.window.full_with() {
            (spread.squares() / (self.window.len() - 1) as f64).sqrt() * 100.0
        } else {
            f64::NAN
        };
        (spread, out)
    }
}

impl Indicator for RealisedVolatility {
    type Output = f64;
    const NONE: f64 = f64::NAN;

    fn update(&mut self, price: f64) -> f64 {
        if !(price.is_finite() && price > 0.0) {
            self.reset();
            return f64::NAN;
        }
        let Some(r) = self.log_return(price) else {
            // The first price since a gap, or a return too large to hold.
            self.reset();
            self.prev = price;
            return f64::NAN;
        };
        let (spread, out) = self.step(r);
        self.window.push(r);
        self.spread = spread;
        self.prev = price;
        out
    }

    fn peek(&self, price: f64) -> f64 {
        match self.log_return(price) {
            Some(r) => self.step(r).1,
            None => f64::NAN,
        }
    }

    fn reset(&mut self) {
        self.prev = f64::NAN;
        self.window.clear();
        self.spread = Spread::default();
    }
}

/// [`RollingStd`] down a column.
pub fn rolling_std(values: &[f64], period: usize) -> Vec<f64> {
    column(RollingStd::new(period), values)
}

/// [`RealisedVolatility`] down a column of prices.
pub fn realised_volatility(prices: &[f64], period: usize) -> Vec<f64> {
    column(RealisedVolatility::new(period), prices)
}
