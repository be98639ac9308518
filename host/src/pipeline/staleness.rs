//! Whether the source is failing, and the few lines that say so: when an outage starts, when
//! its reason changes, when the last good snapshot passes its max age, and when the source
//! recovers; a few of each a minute, and a summary of the rest ([`Flaps`]).

use std::time::{Duration, Instant};

use tracing::{error, info};

use crate::shared::flaps::{Flaps, LINES_PER_MINUTE};

/// Tracks a failing source: logs the outage once, crossing the max age once, and the end.
#[derive(Default)]
pub(super) struct Staleness {
    /// When the current outage started; `None` while the source works.
    since: Option<Instant>,
    /// The source's last error, while it fails (shown in `pulse:status`).
    error: Option<String>,
    /// Whether the line saying market keys stop has been written for this outage.
    past_max_age: bool,
    /// The new reasons an outage went on with, said a few a minute (they may carry data that
    /// changes every poll, a line number or an excerpt).
    reasons: Flaps,
    /// Outages started and ended this minute, so a flapping source logs a few lines a minute
    /// and a summary.
    flaps: Flaps,
}

impl Staleness {
    /// Notes a failed poll; `age` is that of the last good snapshot, if any.
    pub(super) fn failed(&mut self, source: &str, error: &anyhow::Error, age: Option<Duration>, max_age: Duration) {
        let reason = format!("{error:#}");
        // The failing cycle's trace, while traces are on: this runs in its snapshot's span.
        let trace_id = super::spans::trace_id(&tracing::Span::current());
        let trace_id = trace_id.as_deref();
        self.say_held_changes(source);
        if self.since.is_none() {
            self.since = Some(Instant::now());
            let said = self.flaps.admit("failures", Instant::now());
            match age {
                _ if !said => {}
                Some(age) => error!(
                    source,
                    trace_id,
                    "market source {source} failed: {reason}; serving the last good snapshot ({:.1} s old)",
                    age.as_secs_f64()
                ),
                None => error!(
                    source,
                    trace_id, "market source {source} failed: {reason}; no snapshot to serve yet"
                ),
            }
        } else if self.error.as_ref() != Some(&reason) && self.reasons.admit("new reasons", Instant::now()) {
            error!(source, trace_id, "market source {source} still failing: {reason}");
        }
        if !self.past_max_age && age.is_some_and(|a| a > max_age) {
            self.past_max_age = true;
            error!(
                source,
                "the last good snapshot is older than {} s: market keys are no longer written and expire",
                max_age.as_secs()
            );
        }
        self.error = Some(reason);
    }

    /// Notes a good poll, ending an outage if there was one.
    pub(super) fn recovered(&mut self, source: &str) {
        self.say_held_changes(source);
        if let Some(since) = self
            .since
            .take()
            .filter(|_| self.flaps.admit("recoveries", Instant::now()))
        {
            info!(
                source,
                "market source {source} recovered after {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
        self.error = None;
        self.past_max_age = false;
    }

    /// Says, once their minute has passed, how many outages started and ended unsaid while the
    /// source flapped.
    fn say_held_changes(&mut self, source: &str) {
        let now = if self.since.is_some() { "failing" } else { "working" };
        if let Some(held) = self.flaps.summary(Instant::now()) {
            error!(
                source,
                "market source {source} flapping: {held} more in the last minute, at most {LINES_PER_MINUTE} said a minute; {now} now"
            );
        }
        if let Some(held) = self.reasons.summary(Instant::now()) {
            error!(
                source,
                "market source {source} still failing: {held} more in the last minute, at most {LINES_PER_MINUTE} said a minute; {now} now"
            );
        }
    }

    /// The source's error while it fails.
    pub(super) fn error(&self) -> Option<String> {
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_keeps_its_error_until_the_source_recovers() {
        let mut staleness = Staleness::default();
        let max_age = Duration::from_secs(30);
        staleness.failed("bybit", &anyhow::anyhow!("HTTP 500"), None, max_age);
        assert_eq!(staleness.error().as_deref(), Some("HTTP 500"));
        assert!(!staleness.past_max_age);
        staleness.failed(
            "bybit",
            &anyhow::anyhow!("timeout"),
            Some(Duration::from_secs(31)),
            max_age,
        );
        assert_eq!(staleness.error().as_deref(), Some("timeout"));
        assert!(staleness.past_max_age && staleness.since.is_some());
        staleness.recovered("bybit");
        assert_eq!(staleness.error(), None);
        assert!(!staleness.past_max_age && staleness.since.is_none());
    }
}
