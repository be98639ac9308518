//! `[rollback]`: the probation of a version after a swap, and when it gives way to the version
//! it replaced.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::Count;

/// How long a version is on probation after a swap, and what makes the host swap the previous
/// version back: failed cycles in a row, or a failure rate or call time worse than the previous
/// version's by a factor, judged over enough calls and above a floor so that noise does not
/// flap it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackConfig {
    /// Cycles a version is on probation after it is swapped in.
    pub probation_cycles: Count,
    /// Failed cycles in a row that roll a version on probation back; below
    /// `sandbox.quarantine_after`, so a rollback always comes before a quarantine.
    pub failed_cycles: Count,
    /// A failure rate this many times the previous version's rolls back...
    pub failure_rate_factor: f64,
    /// ...when it is also above this share of calls.
    pub failure_rate_floor: f64,
    /// A mean call time this many times the previous version's rolls back...
    pub call_time_factor: f64,
    /// ...when it is also above this many milliseconds.
    pub call_time_floor_ms: f64,
    /// Calls of the version on probation before its rate and time are judged.
    pub min_calls: Count,
}

impl Default for RollbackConfig {
    fn default() -> Self {
        Self {
            probation_cycles: Count(30),
            failed_cycles: Count(3),
            failure_rate_factor: 3.0,
            failure_rate_floor: 0.2,
            call_time_factor: 5.0,
            call_time_floor_ms: 50.0,
            min_calls: Count(10),
        }
    }
}

impl RollbackConfig {
    /// Checks the table against the breaker's `quarantine_after`.
    pub fn check(&self, quarantine_after: u64) -> Result<()> {
        if self.failed_cycles.0 >= quarantine_after {
            bail!(
                "rollback.failed_cycles ({}) must be below sandbox.quarantine_after ({quarantine_after}), so that a \
                 version on probation is rolled back before it is quarantined",
                self.failed_cycles.0
            );
        }
        for (name, value) in [
            ("failure_rate_factor", self.failure_rate_factor),
            ("call_time_factor", self.call_time_factor),
        ] {
            if !(value.is_finite() && value >= 1.0) {
                bail!("rollback.{name} must be a number of at least 1, not {value}");
            }
        }
        if !(0.0..=1.0).contains(&self.failure_rate_floor) {
            bail!(
                "rollback.failure_rate_floor must be a share between 0 and 1, not {}",
                self.failure_rate_floor
            );
        }
        if !(self.call_time_floor_ms.is_finite() && self.call_time_floor_ms >= 0.0) {
            bail!(
                "rollback.call_time_floor_ms must be a number of at least 0, not {}",
                self.call_time_floor_ms
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_must_come_before_a_quarantine_and_factors_are_sane() {
        let rules = RollbackConfig::default();
        assert!(rules.check(5).is_ok());
        let late = rules.check(3).unwrap_err().to_string();
        assert!(
            late.starts_with("rollback.failed_cycles (3) must be below sandbox.quarantine_after (3)"),
            "{late}"
        );
        let shrinking = RollbackConfig {
            call_time_factor: 0.5,
            ..RollbackConfig::default()
        };
        let why = shrinking.check(5).unwrap_err().to_string();
        assert_eq!(why, "rollback.call_time_factor must be a number of at least 1, not 0.5");
        let config: crate::config::Config = toml::from_str("[rollback]\nfailed_cycles = 2\nmin_calls = 4\n").unwrap();
        assert_eq!(
            (
                config.rollback.failed_cycles.0,
                config.rollback.min_calls.0,
                config.rollback.probation_cycles.0
            ),
            (2, 4, 30)
        );
    }
}
