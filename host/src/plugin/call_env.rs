//! What a call's WASI clocks and random read: the market's time and a generator seeded from
//! the cycle and the plugin, so a live cycle and its replay give a plugin the very same
//! inputs, and no plugin can read a time later than the market it was handed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use crate::shared::market_view::MarketRef;

/// The time and seed one call runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallEnv {
    /// What the wall clock reads throughout the call: the market's time, ms since the Unix
    /// epoch (0, the epoch, for `describe` and the `init` of staging, which see no market).
    pub now_ms: i64,
    /// Seeds every random source of the call.
    pub seed: u64,
}

impl CallEnv {
    /// A call of `plugin` on `market`.
    pub fn on(market: &MarketRef, plugin: &str) -> Self {
        Self {
            now_ms: market.timestamp_ms,
            seed: seed(market.cycle, plugin),
        }
    }

    /// A call of `plugin` that sees no market (`describe`, and `init` while staging).
    pub fn unmarketed(plugin: &str) -> Self {
        Self {
            now_ms: 0,
            seed: seed(0, plugin),
        }
    }

    /// Gives `builder` this call's clocks and random sources.
    pub(super) fn apply(self, builder: &mut WasiCtxBuilder) {
        let since_epoch = Duration::from_millis(self.now_ms.max(0) as u64);
        builder
            .wall_clock(StoppedClock(since_epoch))
            .monotonic_clock(TickingClock::from(since_epoch))
            .secure_random(SmallRng::seed_from_u64(self.seed))
            .insecure_random(SmallRng::seed_from_u64(self.seed ^ INSECURE))
            .insecure_random_seed(u128::from(self.seed) << 64 | u128::from(self.seed ^ INSECURE));
    }
}

/// Tells the insecure generator's stream from the secure one's.
const INSECURE: u64 = 0x5EED_1D1E_C0DE_CAFE;

/// The seed of `plugin`'s calls in `cycle`: FNV-1a of the name, mixed with the cycle, fixed
/// here rather than left to a hasher whose output may change between Rust releases.
fn seed(cycle: u64, plugin: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in plugin.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash ^ cycle.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A wall clock that does not move during a call: it reads the time it was set to.
struct StoppedClock(Duration);

impl HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// A monotonic clock that moves by reads, not by time: the first read gives the time it was
/// set to, each later one [`TICK_NS`] more. A plugin that loops until some time has passed
/// still ends (and ends after the same number of reads, live or replayed), while what it
/// computes cannot depend on how fast the host ran it.
struct TickingClock {
    /// The reading of the next call to `now`, in ns.
    next_ns: AtomicU64,
}

/// How far the monotonic clock moves per read.
const TICK_NS: u64 = 1_000;

impl From<Duration> for TickingClock {
    fn from(start: Duration) -> Self {
        Self {
            next_ns: AtomicU64::new(u64::try_from(start.as_nanos()).unwrap_or(u64::MAX)),
        }
    }
}

impl HostMonotonicClock for TickingClock {
    fn resolution(&self) -> u64 {
        TICK_NS
    }
    fn now(&self) -> u64 {
        self.next_ns.fetch_add(TICK_NS, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_starts_at_the_market_and_moves_per_read() {
        let clock = TickingClock::from(Duration::from_millis(5));
        assert_eq!(clock.now(), 5_000_000);
        assert_eq!(clock.now(), 5_001_000);
        let wall = StoppedClock(Duration::from_millis(5));
        assert_eq!(
            (wall.now(), wall.now()),
            (Duration::from_millis(5), Duration::from_millis(5))
        );
    }

    #[test]
    fn the_seed_is_the_same_for_the_same_cycle_and_plugin_only() {
        assert_eq!(seed(7, "trend"), seed(7, "trend"));
        assert_ne!(seed(7, "trend"), seed(8, "trend"));
        assert_ne!(seed(7, "trend"), seed(7, "volatility"));
        // Pinned: a replay on another build of the host must seed the same.
        assert_eq!(seed(1, "trend"), 0x61e9_541f_a870_4e45);
    }
}
