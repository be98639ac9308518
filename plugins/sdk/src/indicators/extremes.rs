//! Rolling maximum and minimum, each kept as a monotonic queue: O(1) per value, amortised.

use std::collections::VecDeque;

use super::{check_period, column, Indicator};

/// The values that can still become the window's extreme, in the order they came, each with
/// its position: every one beats all those after it, so the front is the extreme.
#[derive(Debug, Clone)]
struct Extreme {
    /// Values in the window.
    period: usize,
    /// `(position, value)`, the front the extreme.
    queue: VecDeque<(u64, f64)>,
    /// The position of the next value.
    next: u64,
    /// Values since the last gap, up to `period`.
    count: usize,
}

impl Extreme {
    fn new(period: usize) -> Self {
        Self {
            period,
            queue: VecDeque::with_capacity(period),
            next: 0,
            count: 0,
        }
    }

    /// Whether `a` beats or equals `b`: the later of two equal values stays.
    fn beats(a: f64, b: f64, largest: bool) -> bool {
        if largest {
            a >= b
        } else {
            a <= b
        }
    }

    fn update(&mut self, value: f64, largest: bool) -> f64 {
        if !value.is_finite() {
            self.reset();
            return f64::NAN;
        }
        let out = self.peek(value, largest);
        // The front leaves once `period` values came after it.
        if self
            .queue
            .front()
            .is_some_and(|&(at, _)| at + self.period as u64 <= self.next)
        {
            self.queue.pop_front();
        }
        while self.queue.back().is_some_and(|&(_, v)| Self::beats(value, v, largest)) {
            self.queue.pop_back();
        }
        self.queue.push_back((self.next, value));
        self.next += 1;
        self.count = (self.count + 1).min(self.period);
        out
    }

    fn peek(&self, value: f64, largest: bool) -> f64 {
        if !value.is_finite() || self.count + 1 < self.period {
            return f64::NAN;
        }
        let leaves = |&&(at, _): &&(u64, f64)| at + self.period as u64 <= self.next;
        match self.queue.iter().find(|entry| !leaves(entry)) {
            Some(&(_, v)) if !Self::beats(value, v, largest) => v,
            _ => value,
        }
    }

    fn reset(&mut self) {
        self.queue.clear();
        self.count = 0;
    }
}

/// The largest of the last `period` values (of equal ones, the latest). First value at the
/// `period`-th value.
#[derive(Debug, Clone)]
pub struct RollingMax(Extreme);

/// The smallest of the last `period` values (of equal ones, the latest). First value at the
/// `period`-th value.
#[derive(Debug, Clone)]
pub struct RollingMin(Extreme);

impl RollingMax {
    /// A maximum over `period` values (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("rolling_max", period, 1);
        Self(Extreme::new(period))
    }
}

impl RollingMin {
    /// A minimum over `period` values (at least 1).
    pub fn new(period: usize) -> Self {
        check_period("rolling_min", period, 1);
        Self(Extreme::new(period))
    }
}

impl Indicator for RollingMax {
    type Output = f64;
    const NONE: f64 = f64::NAN;
    fn update(&mut self, value: f64) -> f64 {
        self.0.update(value, true)
    }
    fn peek(&self, value: f64) -> f64 {
        self.0.peek(value, true)
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

impl Indicator for RollingMin {
    type Output = f64;
    const NONE: f64 = f64::NAN;
    fn update(&mut self, value: f64) -> f64 {
        self.0.update(value, false)
    }
    fn peek(&self, value: f64) -> f64 {
        self.0.peek(value, false)
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

/// [`RollingMax`] down a column.
pub fn rolling_max(values: &[f64], period: usize) -> Vec<f64> {
    column(RollingMax::new(period), values)
}

/// [`RollingMin`] down a column.
pub fn rolling_min(values: &[f64], period: usize) -> Vec<f64> {
    column(RollingMin::new(period), values)
}
