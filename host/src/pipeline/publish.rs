//! The cycle's last step: the write. It owns the sink and the permission to write (always, or
//! while this daemon leads its pair and its lease outlasts the write), and says how writes go
//! in the log: `Pushed N symbols` once a minute, a failure when failures start and then once a
//! minute, and the recovery.

use std::time::{Duration, Instant};

use tracing::{debug, error, info, warn};

use crate::cache::{Fence, Sink};
use crate::ha::Leadership;
use crate::plugin::Generation;
use crate::shared::entry::ValidEntry;
use crate::shared::leadership::{LeadershipFacts, Role};
use crate::shared::log_throttle::LogThrottle;
use crate::shared::write_stats::{WriteReport, WriterStats};
use crate::status::{CycleSummary, CycleWrite};

/// The reason the success line is throttled by.
const PUSHED: &str = "pushed";
/// The reason the failure line is throttled by; forgotten when writes recover.
const PUSH_FAILED: &str = "push failed";

/// Where the cycle's entries go, and whether they may.
pub(super) struct Publisher {
    /// Where entries go.
    sink: Box<dyn Sink>,
    /// Whether this daemon may write now: always, or while it leads its pair.
    leadership: Leadership,
    /// The longest a write may take: a leader starts one only if its lease outlasts it.
    write_deadline: Duration,
    /// Entries the last write stored, which the next cycle's `pulse:status` states (it is
    /// written before its own write).
    written_last: usize,
    /// Whether the last write failed, so the recovery is said once.
    failing: bool,
    /// The push lines, and the lease warning, throttled.
    repeats: LogThrottle,
}

/// Whether this cycle may write, and the role that says so.
pub(super) struct Permission {
    /// The term to write in; `None` when this daemon may not write.
    pub(super) term: Option<i64>,
    /// The role, id and term, with `[ha]`.
    pub(super) ha: Option<LeadershipFacts>,
}

impl Publisher {
    /// A publisher writing to `sink` whenever `leadership` lets it, each write bounded by
    /// `write_deadline`.
    pub(super) fn new(sink: Box<dyn Sink>, leadership: Leadership, write_deadline: Duration) -> Self {
        Self {
            sink,
            leadership,
            write_deadline,
            written_last: 0,
            failing: false,
            repeats: LogThrottle::per_minute(),
        }
    }

    /// Whether this daemon may write, and in which role.
    pub(super) fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// Writes with `leadership` from now on.
    pub(super) fn set_leadership(&mut self, leadership: Leadership) {
        self.leadership = leadership;
    }

    /// Entries the last write stored.
    pub(super) fn written_last(&self) -> usize {
        self.written_last
    }

    /// The sink's totals and server states now, for the status built before the write (the
    /// write reads them again once it is done): a server's background probe can bring a server
    /// back between cycles.
    pub(super) fn totals(&self) -> WriterStats {
        self.sink.stats()
    }

    /// Whether this cycle may write, read once with the role, so the status written never
    /// names another role than the write's. A leader first says which plugins it serves
    /// (`generation`'s), for its standby to compare.
    pub(super) fn permission(&mut self, generation: &Generation) -> Permission {
        self.leadership.serve(|| generation.plugin_set());
        let (term, ha) = self.leadership.now(self.write_deadline);
        Permission {
            term,
            ha: Some(ha).filter(|ha| ha.id.is_some()),
        }
    }

    /// Writes cycle `cycle`'s `entries` in `term` (nothing without one), for a cycle that
    /// began at `started`.
    pub(super) async fn write(
        &mut self,
        cycle: u64,
        term: Option<i64>,
        entries: Vec<ValidEntry>,
        started: Instant,
    ) -> CycleWrite {
        let report = match term {
            Some(term) => self.write_in(cycle, term, entries).await,
            None => self.stand_by(cycle),
        };
        self.written_last = report.written;
        CycleWrite {
            wrote: term.is_some(),
            report,
            cache: self.sink.stats(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Writes the cycle's entries in `term`, each item carrying it, for as long as the lease of
    /// that term is proven: the writer checks before every socket write and resend.
    async fn write_in(&mut self, cycle: u64, term: i64, entries: Vec<ValidEntry>) -> WriteReport {
        let leadership = &self.leadership;
        let holds = move || leadership.may_write(Duration::ZERO) == Some(term);
        let fence = Fence { term, holds: &holds };
        self.sink.write(cycle, entries, fence).await
    }

    /// What a cycle writes when this daemon may not: nothing. A leader whose lease is not
    /// proven for the length of a write says so once a minute.
    fn stand_by(&mut self, cycle: u64) -> WriteReport {
        if matches!(self.leadership.facts().role, Role::Leader { .. }) {
            if let Some(due) = self.repeats.admit("ha: lease not proven") {
                warn!(
                    cycle,
                    "ha: leader, but its lease is not proven to outlast a write; not writing{due}"
                );
            }
        }
        WriteReport::default()
    }

    /// Says how the cycle's write went, for the daemon's loop: the failure when failures start
    /// and then once a minute, the recovery once, and `Pushed N symbols` once a minute while
    /// writes succeed (a standby wrote nothing, so it says nothing of pushing). A failure's line
    /// carries the cycle's `trace_id` while traces are on.
    pub(super) fn say(&mut self, summary: &CycleSummary, trace_id: Option<&str>) {
        let (facts, write) = (&summary.facts, &summary.write);
        if let Some(reason) = write.error() {
            self.failing = true;
            if let Some(due) = self.repeats.admit(PUSH_FAILED) {
                error!(
                    cycle = facts.cycle,
                    failed = write.report.failed,
                    written = write.report.written,
                    trace_id,
                    "Error pushing to unified cache: {reason}{due}"
                );
            }
            return;
        }
        debug!(
            cycle = facts.cycle,
            written = write.report.written,
            dropped = facts.dropped,
            "cycle done"
        );
        if std::mem::take(&mut self.failing) {
            self.repeats.forget(PUSH_FAILED);
            info!("unified cache writes recovered");
        }
        if write.wrote && self.repeats.admit(PUSHED).is_some() {
            info!("Pushed {} symbols to unified cache", facts.symbols);
        }
    }
}
