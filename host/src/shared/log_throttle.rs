//! Keeps a line that could repeat every cycle (a bad row an exchange always serves, a plugin
//! that fails the same way each call) to one line when it starts and then at most one a
//! period per reason, each saying how many were held back. Counters carry every occurrence;
//! the log carries the news.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// Most reasons remembered at once; reasons are few (plugins × kinds, rejection reasons), so
/// this is a guard against a caller that builds keys from data, not a working limit.
const MAX_REASONS: usize = 4096;
/// The one reason every new reason shares while all [`MAX_REASONS`] are in their period.
const OVERFLOW: &str = "(too many reasons)";

/// When each reason was last written and how many occurrences were held back since.
#[derive(Debug)]
pub struct LogThrottle {
    /// Shortest time between two lines for one reason.
    period: Duration,
    /// Per reason: when its last line was written, and occurrences held back since then.
    reasons: HashMap<String, (Instant, u64)>,
}

/// A line that is due now, with how many occurrences of its reason were held back before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Occurrences not written since the previous line for this reason.
    pub held: u64,
    /// The period they fell in.
    period: Duration,
}

impl fmt::Display for Due {
    /// Nothing when none was held back, else a clause to end the line with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.held {
            0 => Ok(()),
            n => write!(
                f,
                " ({n} more like it since the last such line, at most one every {} s)",
                self.period.as_secs()
            ),
        }
    }
}

impl LogThrottle {
    /// A throttle writing each reason at most once a minute.
    pub fn per_minute() -> Self {
        Self::new(Duration::from_secs(60))
    }

    /// A throttle writing each reason at most once a `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            reasons: HashMap::new(),
        }
    }

    /// Records an occurrence of `reason`; `Some` when its line is due now (the first
    /// occurrence, or the first a period after the last line).
    pub fn admit(&mut self, reason: &str) -> Option<Due> {
        self.admit_at(reason, Instant::now())
    }

    /// Forgets `reason`, so its next occurrence is written at once: for a run of failures
    /// that has ended, whose next run is news.
    pub fn forget(&mut self, reason: &str) {
        self.reasons.remove(reason);
    }

    fn admit_at(&mut self, reason: &str, now: Instant) -> Option<Due> {
        let period = self.period;
        if !self.reasons.contains_key(reason) && self.reasons.len() >= MAX_REASONS {
            self.reasons.retain(|_, (at, _)| now.duration_since(*at) < period);
        }
        let reason = if self.reasons.contains_key(reason) || self.reasons.len() < MAX_REASONS {
            reason
        } else {
            OVERFLOW
        };
        if let Some((logged_at, held)) = self.reasons.get_mut(reason) {
            if now.duration_since(*logged_at) < period {
                *held += 1;
                return None;
            }
            let due = Due { held: *held, period };
            *logged_at = now;
            *held = 0;
            return Some(due);
        }
        self.reasons.insert(reason.to_string(), (now, 0));
        Some(Due { held: 0, period })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_written_when_it_starts_then_once_a_period_with_what_was_held() {
        let mut throttle = LogThrottle::new(Duration::from_secs(60));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(throttle.admit_at("bad row", at(0)).map(|d| d.held), Some(0));
        for s in (2..60).step_by(2) {
            assert!(throttle.admit_at("bad row", at(s)).is_none(), "{s}");
        }
        assert_eq!(throttle.admit_at("other", at(30)).map(|d| d.held), Some(0));
        let due = throttle.admit_at("bad row", at(60)).unwrap();
        assert_eq!(due.held, 29);
        assert_eq!(
            due.to_string(),
            " (29 more like it since the last such line, at most one every 60 s)"
        );
        assert!(throttle.admit_at("bad row", at(61)).is_none());
        assert_eq!(throttle.admit_at("bad row", at(200)).map(|d| d.held), Some(1));
        assert_eq!(throttle.admit_at("fresh", at(200)).unwrap().to_string(), "");
        throttle.forget("bad row");
        assert_eq!(
            throttle.admit_at("bad row", at(201)).map(|d| d.held),
            Some(0),
            "forgotten: news again"
        );
    }

    #[test]
    fn reasons_are_bounded_and_old_ones_make_room() {
        let mut throttle = LogThrottle::new(Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..MAX_REASONS + 10 {
            let due = throttle.admit_at(&i.to_string(), start).is_some();
            assert_eq!(due, i <= MAX_REASONS, "{i}: past the bound, new reasons share one");
        }
        assert_eq!(throttle.reasons.len(), MAX_REASONS + 1);
        assert!(throttle.admit_at("late", start + Duration::from_secs(61)).is_some());
        assert_eq!(throttle.reasons.len(), 1);
    }
}
