//! Probation: for a while after a swap, a version is judged against the figures of the version
//! it replaced, and one that fails too often or too slowly gives way to it. The rules are
//! `[rollback]`; the status board applies them as it records each call, and the pipeline asks
//! the reloader for the swap back.

use serde::Serialize;

use crate::config::RollbackConfig;
use crate::shared::call::Fingerprint;

/// A version's record as probation reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(super) struct Figures {
    /// Calls made.
    pub(super) calls: u64,
    /// Calls that failed.
    pub(super) failures: u64,
    /// Time spent in calls, in milliseconds.
    pub(super) total_ms: f64,
}

impl Figures {
    fn failure_rate(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.failures as f64 / self.calls as f64)
    }

    fn mean_ms(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.total_ms / self.calls as f64)
    }
}

/// A version on probation, as `pulse:status` and `/plugins` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Probation {
    /// Calls left before it has passed.
    pub(super) cycles_left: u64,
    /// The record of the version it replaced, which it is judged against.
    pub(super) replaced: Figures,
    /// That version, which a rollback brings back.
    #[serde(skip)]
    pub(super) replaced_version: Fingerprint,
}

impl Probation {
    /// Probation for a version that replaced `version`, whose record is `replaced`.
    pub(super) fn after(rules: &RollbackConfig, replaced: Figures, version: Fingerprint) -> Self {
        Self {
            cycles_left: rules.probation_cycles.0,
            replaced,
            replaced_version: version,
        }
    }
}

/// Why the version with the record `now` (and `failed_in_a_row` failed calls in a row) gives
/// way to the version it replaced, if it does: the first rule of `rules` it breaks, with the
/// figures.
pub(super) fn judge(
    rules: &RollbackConfig,
    probation: &Probation,
    now: Figures,
    failed_in_a_row: u64,
) -> Option<String> {
    if failed_in_a_row >= rules.failed_cycles.0 {
        return Some(format!(
            "it failed {failed_in_a_row} cycles in a row (rollback.failed_cycles = {})",
            rules.failed_cycles.0
        ));
    }
    if now.calls < rules.min_calls.0 {
        return None;
    }
    let old = probation.replaced;
    let rate = now.failure_rate().unwrap_or(0.0);
    let old_rate = old.failure_rate().unwrap_or(0.0);
    if rate > rules.failure_rate_floor && rate > old_rate * rules.failure_rate_factor {
        return Some(format!(
            "it failed {:.0} % of its {} calls, against {:.0} % of {} for the version it replaced \
             (rollback.failure_rate_factor = {}, failure_rate_floor = {})",
            rate * 100.0,
            now.calls,
            old_rate * 100.0,
            old.calls,
            rules.failure_rate_factor,
            rules.failure_rate_floor
        ));
    }
    let (mean, old_mean) = (now.mean_ms().unwrap_or(0.0), old.mean_ms()?);
    (mean > rules.call_time_floor_ms && mean > old_mean * rules.call_time_factor).then(|| {
        format!(
            "its calls took {mean:.1} ms on average over {}, against {old_mean:.1} ms over {} for the version it \
             replaced (rollback.call_time_factor = {}, call_time_floor_ms = {})",
            now.calls, old.calls, rules.call_time_factor, rules.call_time_floor_ms
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(calls: u64, failures: u64, total_ms: f64) -> Figures {
        Figures {
            calls,
            failures,
            total_ms,
        }
    }

    #[test]
    fn each_rule_rolls_back_only_past_its_factor_its_floor_and_enough_calls() {
        let rules = RollbackConfig::default();
        let version = Fingerprint {
            hash: "old".into(),
            side_config: None,
            signature: None,
        };
        let probation = Probation::after(&rules, figures(100, 2, 200.0), version.clone());
        assert_eq!(probation.cycles_left, 30);
        let judged = |now, in_a_row| judge(&rules, &probation, now, in_a_row);

        let in_a_row = judged(figures(5, 3, 10.0), 3).unwrap();
        assert!(in_a_row.starts_with("it failed 3 cycles in a row"), "{in_a_row}");
        assert_eq!(judged(figures(5, 2, 10.0), 2), None, "two in a row are not three");
        assert_eq!(judged(figures(9, 4, 10.0), 0), None, "too few calls to judge a rate");
        let rate = judged(figures(10, 4, 20.0), 0).unwrap();
        assert!(
            rate.starts_with("it failed 40 % of its 10 calls, against 2 % of 100"),
            "{rate}"
        );
        assert_eq!(judged(figures(10, 1, 20.0), 0), None, "10 % is under the 20 % floor");

        let slow = judged(figures(10, 0, 10.0 * 60.0), 0).unwrap();
        assert!(
            slow.starts_with("its calls took 60.0 ms on average over 10, against 2.0 ms"),
            "{slow}"
        );
        assert_eq!(
            judged(figures(10, 0, 10.0 * 40.0), 0),
            None,
            "40 ms is under the 50 ms floor"
        );
        let fast_before = Probation::after(&rules, figures(100, 0, 100.0 * 20.0), version.clone());
        assert_eq!(
            judge(&rules, &fast_before, figures(10, 0, 10.0 * 90.0), 0),
            None,
            "4.5 times is under 5"
        );
        let no_record = Probation::after(&rules, Figures::default(), version);
        assert_eq!(
            judge(&rules, &no_record, figures(10, 0, 10.0 * 900.0), 0),
            None,
            "no time to compare with"
        );
    }
}
