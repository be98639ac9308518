//! Bollinger bands.

use super::window::{Spread, Window};
use super::{check_period, Indicator};

/// The three bands for one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bands {
    /// `middle + width·σ`.
    pub upper: f64,
    /// The SMA of the window, the same bits as [`super::Sma`]'s.
    pub middle: f64,
    /// `middle − width·σ`.
    pub lower: f64,
}

/// The three bands' columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BandColumns {
    /// `middle + width·σ`.
    pub upper: Vec<f64>,
    /// The SMA.
    pub middle: Vec<f64>,
    /// `middle − width·σ`.
    pub lower: Vec<f64>,
}

/// Bollinger bands: the SMA of the last `period` values, and bands `width` standard
/// deviations above and below it. σ is the population deviation of the same window (divided
/// by `period`, as John Bollinger defines it), the same bits as [`super::RollingStd`]'s. First
/// value at the `period`-th value.
#[derive(Debug, Clone)]
pub struct Bollinger {
    /// The last `period` values.
    window: Window,
    /// Their sum.
    sum: f64,
    /// Their spread.
    spread: Spread,
    /// Standard deviations from the middle to each band, such as 2.
    width: f64,
}

impl Bollinger {
    /// Bands over `period` values (at least 1), `width` deviations wide.
    pub fn new(period: usize, width: f64) -> Self {
        check_period("bollinger", period, 1);
        Self {
            window: Window::new(period),
            sum: 0.0,
            spread: Spread::default(),
            width,
        }
    }

    /// The sum and spread with `value` taken, and the output.
    fn step(&self, value: f64) -> (f64, Spread, Bands) {
        let sum = self.window.sum_with(self.sum, value);
        let spread = self.window.spread_with(self.spread, value);
        if !self.window.full_with() {
            return (sum, spread, Self::NONE);
        }
        let n = self.window.len() as f64;
        let middle = sum / n;
        let sigma = (spread.squares() / n).sqrt();
        let bands = Bands {
            upper: middle + self.width * sigma,
            middle,
            lower: middle - self.width * sigma,
        };
        (sum, spread, bands)
    }
}

impl Indicator for Bollinger {
    type Output = Bands;
    const NONE: Bands = Bands {
        upper: f64::NAN,
        middle: f64::NAN,
        lower: f64::NAN,
    };

    fn update(&mut self, value: f64) -> Bands {
        if !value.is_finite() {
            self.reset();
            return Self::NONE;
        }
        let (sum, spread, out) = self.step(value);
        self.window.push(value);
        self.sum = sum;
        self.spread = spread;
        out
    }

    fn peek(&self, value: f64) -> Bands {
        if !value.is_finite() {
            return Self::NONE;
        }
        self.step(value).2
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
        self.spread = Spread::default();
    }
}

/// [`Bollinger`] down a column.
pub fn bollinger(values: &[f64], period: usize, width: f64) -> BandColumns {
    let mut bands = Bollinger::new(period, width);
    let mut out = BandColumns::default();
    for &v in values {
        let b = bands.update(v);
        out.upper.push(b.upper);
        out.middle.push(b.middle);
        out.lower.push(b.lower);
    }
    out
}
