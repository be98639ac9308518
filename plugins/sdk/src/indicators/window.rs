//! The last `n` values an indicator has seen since its last gap, and the two running figures
//! over them that the window indicators share: their sum and their spread (Welford's mean and
//! sum of squared deviations).
//!
//! Each step is written as "what the figure would be with `x` added" (`sum_with`,
//! `spread_with`) so that `peek` and `update` run the same operations. Rounding would build up
//! in a running figure over a long series, so whenever the ring has been written all the way
//! round (its slots are then oldest first) the figure is recomputed from the window alone.

/// A ring of the last `n` values since the last gap.
#[derive(Debug, Clone)]
pub(super) struct Window {
    /// The values, written round from slot 0 after each gap.
    ring: Vec<f64>,
    /// The slot the next value goes in: the oldest value's, once the window is full.
    pos: usize,
    /// Values since the last gap, up to `n`.
    count: usize,
}

impl Window {
    /// An empty window of `n` values (`n` at least 1).
    pub(super) fn new(n: usize) -> Self {
        Self {
            ring: vec![0.0; n],
            pos: 0,
            count: 0,
        }
    }

    /// How many values the window holds when full.
    pub(super) fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the window is full once `x` is added.
    pub(super) fn full_with(&self) -> bool {
        self.count + 1 >= self.ring.len()
    }

    /// The value the next one pushes out: the oldest, when the window is full.
    pub(super) fn oldest(&self) -> Option<f64> {
        (self.count == self.ring.len()).then(|| self.ring[self.pos])
    }

    /// The window's values with `x` added, oldest first, when adding it writes the ring's last
    /// slot (at a gap the ring restarts at slot 0, so its slots are then in order); `None`
    /// otherwise.
    fn in_order_with(&self, x: f64) -> Option<impl Iterator<Item = f64> + '_> {
        (self.pos + 1 == self.ring.len())
            .then(move || (0..self.ring.len()).map(move |i| if i == self.pos { x } else { self.ring[i] }))
    }

    /// Adds `x`, pushing out the oldest value when full.
    pub(super) fn push(&mut self, x: f64) {
        self.ring[self.pos] = x;
        self.pos = (self.pos + 1) % self.ring.len();
        self.count = (self.count + 1).min(self.ring.len());
    }

    /// Forgets every value: after a gap, or at a reset.
    pub(super) fn clear(&mut self) {
        self.pos = 0;
        self.count = 0;
    }

    /// The window's sum with `x` added, given its sum now.
    pub(super) fn sum_with(&self, sum: f64, x: f64) -> f64 {
        if let Some(values) = self.in_order_with(x) {
            values.fold(0.0, |total, v| total + v)
        } else if let Some(old) = self.oldest() {
            (sum - old) + x
        } else {
            sum + x
        }
    }

    /// The window's [`Spread`] with `x` added, given its spread now.
    pub(super) fn spread_with(&self, spread: Spread, x: f64) -> Spread {
        if let Some(values) = self.in_order_with(x) {
            values.fold(Spread::default(), |s, v| s.add(v))
        } else if let Some(old) = self.oldest() {
            spread.replace(old, x, self.ring.len() as f64)
        } else {
            spread.add(x)
        }
    }
}

/// Welford's running mean and sum of squared deviations from it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Spread {
    /// Values counted (before the window is full).
    count: f64,
    /// Their mean.
    mean: f64,
    /// The sum of their squared deviations from the mean.
    m2: f64,
}

impl Spread {
    /// With `x` counted too.
    fn add(self, x: f64) -> Self {
        let count = self.count + 1.0;
        let d = x - self.mean;
        let mean = self.mean + d / count;
        Self {
            count,
            mean,
            m2: self.m2 + d * (x - mean),
        }
    }

    /// With `old` replaced by `x` in a full window of `n` values.
    fn replace(self, old: f64, x: f64, n: f64) -> Self {
        let d = x - old;
        let mean = self.mean + d / n;
        Self {
            count: self.count,
            mean,
            m2: self.m2 + d * ((x - mean) + (old - self.mean)),
        }
    }

    /// The sum of squared deviations: never below 0 (rounding in `replace` can take it a hair
    /// under), and NaN, not 0, once it has overflowed to −∞.
    pub(super) fn squares(&self) -> f64 {
        if self.m2 == f64::NEG_INFINITY {
            f64::NAN
        } else if self.m2 < 0.0 {
            0.0
        } else {
            self.m2
        }
    }
}
