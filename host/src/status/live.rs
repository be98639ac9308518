//! The daemon's state as of the last finished cycle, published by the pipeline and read
//! between cycles by the status server: the health verdict, `/plugins` and the counters of
//! `/metrics` all come from the one summary each cycle publishes.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use super::board::PluginStatus;
use super::shadows::ShadowStatus;
use super::summary::CycleSummary;
use crate::shared::leadership::LeadershipFacts;
use crate::shared::write_stats::WriterStats;

/// The last cycle's published summary, what accumulates over cycles, and what the daemon is
/// doing now.
#[derive(Debug)]
pub(super) struct Published {
    /// The last finished cycle and when it ended.
    pub(super) last: Option<(Arc<CycleSummary>, Instant)>,
    /// Durations of every cycle, for `pulse_cycle_duration_seconds`; kept here so its count
    /// always equals the cycles published.
    pub(super) cycle_duration: Histogram,
    /// The end of the last cycle whose cache write fully succeeded, and its Unix time in ms.
    pub(super) last_push: Option<(Instant, i64)>,
    /// Interval ticks skipped so far because a cycle overran; published as they are skipped,
    /// between cycles.
    pub(super) skipped_ticks: u64,
    /// Set once the daemon starts stopping.
    pub(super) stopping: bool,
}

impl Published {
    /// Before the first cycle: nothing run, nothing written.
    pub(super) fn new() -> Self {
        Self {
            last: None,
            // 0.5 ms to ~16 s.
            cycle_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            last_push: None,
            skipped_ticks: 0,
            stopping: false,
        }
    }

    /// Takes in a finished cycle, at `now` (Unix time `now_ms`).
    pub(super) fn publish(&mut self, summary: Arc<CycleSummary>, now: Instant, now_ms: i64) {
        self.cycle_duration.observe(summary.write.seconds);
        if summary.write.wrote && summary.write.error().is_none() {
            self.last_push = Some((now, now_ms));
        }
        self.last = Some((summary, now));
    }

    /// Cycles run so far: the last finished cycle's number.
    pub(super) fn cycles(&self) -> u64 {
        self.last.as_ref().map_or(0, |(s, _)| s.facts.cycle)
    }

    /// The loaded plugins and their counters, as of the last cycle.
    pub(super) fn plugins(&self) -> &[PluginStatus] {
        self.last.as_ref().map_or(&[], |(s, _)| &s.facts.plugins)
    }

    /// The loaded shadow versions with their records, as of the last cycle.
    pub(super) fn shadows(&self) -> &[ShadowStatus] {
        self.last.as_ref().map_or(&[], |(s, _)| &s.facts.shadows)
    }

    /// The sink's totals, as of the end of the last cycle's write.
    pub(super) fn cache(&self) -> Option<&WriterStats> {
        self.last.as_ref().map(|(s, _)| &s.write.cache)
    }

    /// The last write's first error, while writes fail.
    pub(super) fn write_error(&self) -> Option<&str> {
        self.last.as_ref().and_then(|(s, _)| s.write.error())
    }

    /// The daemon's role in its pair as of the last cycle, with `[ha]`.
    pub(super) fn ha(&self) -> Option<&LeadershipFacts> {
        self.last.as_ref().and_then(|(s, _)| s.facts.ha.as_ref())
    }
}
