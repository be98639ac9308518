//! One simulated symbol's random walk, and the normal draws that move it: the state the
//! simulated market (`simulated.rs`) steps each cycle and its candles (`simulated_candles.rs`)
//! follow.

use rand::rngs::SmallRng;
use rand::RngExt;

/// One simulated symbol's state.
pub(super) struct Walk {
    /// The exchange-style symbol, e.g. `BTCUSDT`.
    pub(super) symbol: String,
    /// The last price.
    pub(super) price: f64,
    /// The price 24 h ago, for the 24 h change.
    pub(super) open_24h: f64,
    /// The highest price of the last 24 h.
    pub(super) high_24h: f64,
    /// The lowest price of the last 24 h.
    pub(super) low_24h: f64,
    /// The quote turnover of the last 24 h, which orders the symbols.
    pub(super) turnover_24h: f64,
    /// The walk's own trend per step, so symbols do not all move alike.
    pub(super) drift: f64,
}

/// A standard normal draw (Box-Muller).
pub(super) fn standard_normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
