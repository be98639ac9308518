//! The memory limiter of a plugin's store: wasmtime's limits, measured. It remembers the peak
//! linear memory granted (shown in `pulse:status` and `pulse check`) and whether the cap was
//! hit, so a trap at the cap is reported as the `memory_cap` failure kind, told where it
//! happened rather than guessed from a message.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// [`StoreLimits`] that also remember the peak memory granted and whether the cap was hit.
pub(super) struct MeasuredLimits {
    /// wasmtime's own limits: the memory cap, trapping when a grow is refused.
    limits: StoreLimits,
    /// The largest linear memory granted so far, in bytes.
    pub(super) peak_memory: usize,
    /// Whether a grow was refused (the call then traps at its cap).
    pub(super) capped: bool,
}

impl MeasuredLimits {
    /// Limits capping linear memory at `memory_bytes`; a refused grow traps.
    pub(super) fn new(memory_bytes: usize) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            peak_memory: 0,
            capped: false,
        }
    }
}

impl ResourceLimiter for MeasuredLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let granted = self.limits.memory_growing(current, desired, maximum);
        match granted {
            Ok(true) => self.peak_memory = self.peak_memory.max(desired),
            Ok(false) | Err(_) => self.capped = true,
        }
        granted
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn grows_within_the_cap_are_granted_and_measured() {
        let mut limits = MeasuredLimits::new(8 * MIB);
        assert!(limits.memory_growing(0, MIB, None).unwrap());
        assert!(limits.memory_growing(MIB, 8 * MIB, None).unwrap());
        assert_eq!(limits.peak_memory, 8 * MIB);
        assert!(!limits.capped);
    }

    #[test]
    fn a_grow_past_the_cap_traps_and_is_remembered() {
        let mut limits = MeasuredLimits::new(8 * MIB);
        assert!(limits.memory_growing(0, 2 * MIB, None).unwrap());
        assert!(limits.memory_growing(2 * MIB, 8 * MIB + 1, None).is_err());
        assert!(limits.capped);
        assert_eq!(limits.peak_memory, 2 * MIB, "a refused grow is not a peak");
    }
}
