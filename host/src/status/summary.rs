//! One cycle, summarised once: what it served, what its plugins did and what its write did.
//! Everything that reports a cycle derives from this one value: the `pulse:status` document
//! (from [`CycleFacts`], before the write it is part of), the log line, and what the status
//! server shows (`/healthz`, `/plugins`, `/metrics`), published as the whole summary.

use std::time::Duration;

use super::board::PluginStatus;
use super::shadows::ShadowStatus;
use crate::shared::leadership::LeadershipFacts;
use crate::shared::stream_health::StreamHealth;
use crate::shared::write_stats::{WriteReport, WriterStats};

/// A finished cycle: the facts its status stated, and its write.
#[derive(Debug, Clone, Default)]
pub struct CycleSummary {
    /// What the cycle knew before its write; `pulse:status` states exactly these.
    pub facts: CycleFacts,
    /// What the write did.
    pub write: CycleWrite,
}

/// What a cycle knew once its plugins had run, before its write. `pulse:status` is built from
/// these and written with the cycle's entries, so it states the previous write's count
/// (`written_last_cycle`) and the sink's totals before this write: the one place a cycle's
/// data runs against its direction.
#[derive(Debug, Clone, Default)]
pub struct CycleFacts {
    /// The cycle's number, from 1.
    pub cycle: u64,
    /// When the status was built, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// The source's name.
    pub source: &'static str,
    /// Why the source failed this cycle, if it did.
    pub source_error: Option<String>,
    /// Time of the snapshot served, if any.
    pub snapshot_timestamp_ms: Option<i64>,
    /// Age of the snapshot served (0 when fresh), or of the last good one when none is served;
    /// `None` before the first good snapshot.
    pub snapshot_age: Option<Duration>,
    /// Symbols analysed.
    pub symbols: usize,
    /// Configured interval.
    pub interval: Duration,
    /// TTL of the status entry.
    pub ttl: u32,
    /// Ticks skipped so far because a cycle overran.
    pub skipped_ticks: u64,
    /// From the cycle's start to its status, in milliseconds.
    pub duration_ms: f64,
    /// Entries dropped by the entry checks this cycle.
    pub dropped: usize,
    /// The loaded plugins with their counters.
    pub plugins: Vec<PluginStatus>,
    /// The loaded shadow versions with their records.
    pub shadows: Vec<ShadowStatus>,
    /// Entries stored by the previous cycle's write.
    pub written_last_cycle: usize,
    /// The sink's totals and server states as the status was built (a server's background
    /// probe may have brought it back since the previous write).
    pub cache: WriterStats,
    /// This daemon's role, id and term, with `[ha]`; read with the permission to write, so the
    /// status never names another role than the write's.
    pub ha: Option<LeadershipFacts>,
    /// The source's streams, if it streams.
    pub stream: Option<StreamHealth>,
}

/// What a cycle's write did.
#[derive(Debug, Clone, Default)]
pub struct CycleWrite {
    /// Whether the cycle wrote at all: a standby analyses and writes nothing.
    pub wrote: bool,
    /// The entries stored and not stored.
    pub report: WriteReport,
    /// The sink's totals and server states after the write.
    pub cache: WriterStats,
    /// From the cycle's start to the end of its write, in seconds.
    pub seconds: f64,
}

impl CycleWrite {
    /// The write's first error; `None` when every entry was stored.
    pub fn error(&self) -> Option<&str> {
        (self.report.failed > 0).then(|| self.report.first_error.as_deref().unwrap_or_default())
    }
}
