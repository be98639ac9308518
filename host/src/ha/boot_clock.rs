//! A clock that keeps counting while the process or its machine is paused.
//!
//! A leader's lease is proven until a moment of this clock. `std::time::Instant` is
//! `CLOCK_MONOTONIC` on Linux, which stops while the machine is suspended; a daemon frozen
//! with SIGSTOP or a VM paused for migration sees monotonic time go on, but a suspended one
//! would not, and would wake up believing its lease still good. `CLOCK_BOOTTIME` counts the
//! suspension too.

use std::time::Duration;

use rustix::time::{clock_gettime, ClockId};

/// A moment of `CLOCK_BOOTTIME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BootInstant(Duration);

impl BootInstant {
    /// Now.
    pub fn now() -> Self {
        let now = clock_gettime(ClockId::Boottime);
        Self(Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
    }

    /// `self` plus `duration`.
    pub fn after(self, duration: Duration) -> Self {
        Self(self.0 + duration)
    }

    /// How long from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: BootInstant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_moves_with_the_monotonic_clock() {
        let (boot, mono) = (BootInstant::now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (boot_elapsed, mono_elapsed) = (BootInstant::now().since(boot), mono.elapsed());
        assert!(boot_elapsed >= Duration::from_millis(20));
        assert!(boot_elapsed.abs_diff(mono_elapsed) < Duration::from_millis(5));
        assert_eq!(boot.after(Duration::from_secs(1)).since(boot), Duration::from_secs(1));
        assert_eq!(boot.since(boot.after(Duration::from_secs(1))), Duration::ZERO);
    }
}
