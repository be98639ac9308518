//! The daemon's state as of the last finished cycle, published by the pipeline and read
//! between cycles by the status server: the health verdict, `/plugins` and the counters of
//! `/metrics` all come from this one record.

use std::time::Instant;

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use super::board::PluginStatus;
use super::shadows::ShadowStatus;
use crate::shared::leadership::LeadershipFacts;
use crate::shared::write_stats::WriterStats;

/// What the pipeline hands over at the end of each cycle.
#[derive(Debug, Clone, Default)]
pub struct CycleRecord {
    /// The cycle's number, from 1.
    pub cycle: u64,
    /// From its snapshot to the end of its write, in seconds.
    pub seconds: f64,
    /// The loaded plugins with their counters.
    pub plugins: Vec<PluginStatus>,
    /// The loaded shadow versions with their records.
    pub shadows: Vec<ShadowStatus>,
    /// The cache writer's totals and server states after the write.
    pub cache: WriterStats,
    /// The write's first error; `None` when every entry was stored.
    pub write_error: Option<String>,
    /// Whether the cycle wrote at all: a standby does not.
    pub wrote: bool,
    /// The daemon's role in its pair, with `[ha]`.
    pub ha: Option<LeadershipFacts>,
}

/// The last cycle's published state, and what the daemon is doing now.
#[derive(Debug)]
pub(super) struct Live {
    /// The last finished cycle's number (the cycles run so far) and end.
    pub(super) last_cycle: Option<(u64, Instant)>,
    /// Durations of every cycle, for `pulse_cycle_duration_seconds`; kept here so its count
    /// always equals the cycles published.
    pub(super) cycle_duration: Histogram,
    /// The end of the last cycle whose cache write fully succeeded, and its Unix time in ms.
    pub(super) last_push: Option<(Instant, i64)>,
    /// The last write's first error, while writes fail.
    pub(super) write_error: Option<String>,
    /// Interval ticks skipped so far because a cycle overran.
    pub(super) skipped_ticks: u64,
    /// The loaded plugins and their counters, as of the last cycle.
    pub(super) plugins: Vec<PluginStatus>,
    /// The loaded shadow versions with their records, as of the last cycle.
    pub(super) shadows: Vec<ShadowStatus>,
    /// The cache writer's totals, as of the last cycle.
    pub(super) cache: WriterStats,
    /// Set once the daemon starts stopping.
    pub(super) stopping: bool,
    /// The daemon's role in its pair as of the last cycle, with `[ha]`.
    pub(super) ha: Option<LeadershipFacts>,
}

impl Live {
    /// Before the first cycle: nothing run, nothing written.
    pub(super) fn new() -> Self {
        Self {
            last_cycle: None,
            // 0.5 ms to ~16 s.
            cycle_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            last_push: None,
            write_error: None,
            skipped_ticks: 0,
            plugins: Vec::new(),
            shadows: Vec::new(),
            cache: WriterStats::default(),
            stopping: false,
            ha: None,
        }
    }

    /// Takes in a finished cycle, at `now` (Unix time `now_ms`).
    pub(super) fn publish(&mut self, record: CycleRecord, now: Instant, now_ms: i64) {
        self.last_cycle = Some((record.cycle, now));
        self.cycle_duration.observe(record.seconds);
        if record.wrote && record.write_error.is_none() {
            self.last_push = Some((now, now_ms));
        }
        self.ha = record.ha;
        self.write_error = record.write_error;
        self.plugins = record.plugins;
        self.shadows = record.shadows;
        self.cache = record.cache;
    }

    /// Cycles run so far.
    pub(super) fn cycles(&self) -> u64 {
        self.last_cycle.map_or(0, |(cycle, _)| cycle)
    }
}
