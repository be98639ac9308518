//! The cycle's own log lines kept to one a period: the success line operators watch once a
//! minute, and the failure line when failures start and then once a period.

use std::time::{Duration, Instant};

/// Keeps repetitive cycle logs to one line a period, and notes when failures start and end.
pub(super) struct LogGate {
    /// At most one line of each kind per this long.
    period: Duration,
    /// When the last success line was written.
    last_success_log: Option<Instant>,
    /// When the last failure line of the current run of failures was written.
    last_failure_log: Option<Instant>,
    /// Whether the last cycle failed.
    failing: bool,
}

impl LogGate {
    /// A gate letting one line of each kind through per `period`.
    pub(super) fn new(period: Duration) -> Self {
        Self {
            period,
            last_success_log: None,
            last_failure_log: None,
            failing: false,
        }
    }

    /// True when a success line is due (the first, then once a period).
    pub(super) fn due(&mut self) -> bool {
        Self::take(&mut self.last_success_log, self.period)
    }

    /// Marks success; true if this ends a run of failures.
    pub(super) fn recovered(&mut self) -> bool {
        let was = self.failing;
        self.failing = false;
        self.last_failure_log = None;
        was
    }

    /// Marks failure; true when a failure line is due (the first of a run, then once a period).
    pub(super) fn failing(&mut self) -> bool {
        self.failing = true;
        Self::take(&mut self.last_failure_log, self.period)
    }

    fn take(last: &mut Option<Instant>, period: Duration) -> bool {
        let due = last.is_none_or(|t| t.elapsed() >= period);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_period_and_the_ends_of_a_failure_run() {
        let mut gate = LogGate::new(Duration::from_secs(60));
        assert!(!gate.recovered(), "nothing failed yet");
        assert!(gate.due(), "the first success is logged");
        assert!(!gate.due(), "the next ones wait a period");
        assert!(gate.failing(), "the first failure is logged");
        assert!(!gate.failing(), "the next ones wait a period");
        assert!(gate.recovered(), "the end of the failures is logged");
        assert!(gate.failing(), "a new run of failures is logged at once");
        let mut fast = LogGate::new(Duration::ZERO);
        assert!(fast.due() && fast.due());
    }
}
