//! The cycle: snapshot → history and candles → analyzers → aggregators → cache, every interval.
//!
//! Data flows one way. The pipeline owns the source, the history, the candles and the status board; it
//! takes the current generation of plugins at the start of each cycle, so a generation
//! replaced between cycles serves whole cycles only. This file holds the pipeline and its
//! interval loop; `cycle.rs` one cycle's steps, `calls.rs` its plugin calls, `shadows.rs`
//! the shadow versions' calls beside them, and the small helpers their own files.

mod calls;
mod cycle;
mod log_gate;
mod markets;
mod shadows;
mod staleness;
#[cfg(test)]
mod tests;
mod warm;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::{debug, error, info, warn};

use crate::cache::{Sink, WriteReport};
use crate::candles::CandleStore;
use crate::ha::Leadership;
use crate::history::History;
use crate::plugin::PluginFeed;
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::{Selection, Snapshot};
use crate::source::Source;
use crate::status::{ShadowBoard, StatusBoard, Telemetry};
use log_gate::LogGate;
use staleness::Staleness;

/// Settings the cycle needs, fixed for the daemon's life.
#[derive(Debug, Clone)]
pub struct CycleSettings {
    /// Time between cycles.
    pub interval: Duration,
    /// TTL of entries that name none, and of `pulse:status`.
    pub ttl: u32,
    /// Which symbols to analyse.
    pub selection: Selection,
    /// How old the last good snapshot may get before market keys stop.
    pub max_age: Duration,
    /// Failed cycles in a row before a plugin is quarantined.
    pub quarantine_after: u64,
    /// The longest a cycle's write may take: a leader starts one only if its lease outlasts it.
    pub write_deadline: Duration,
    /// Probation after a swap, and when a version gives way to the one it replaced.
    pub rollback: crate::config::RollbackConfig,
}

impl CycleSettings {
    /// The settings `config` asks for.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            interval: config.cycle_interval(),
            selection: config.selection(),
            max_age: Duration::from_secs(config.market.max_age.0),
            ttl: config.ttl.0,
            quarantine_after: config.sandbox.quarantine_after.0,
            write_deadline: config.write_deadline(),
            rollback: config.rollback.clone(),
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone)]
pub struct CycleReport {
    /// The cycle's number, from 1.
    pub cycle: u64,
    /// Symbols analysed.
    pub symbols: usize,
    /// Entries dropped by validation.
    pub dropped: usize,
    /// The write's outcome.
    pub write: WriteReport,
    /// Whether the cycle wrote at all: a standby analyses and writes nothing.
    pub wrote: bool,
}

/// Runs cycles; owns everything that changes from one cycle to the next.
pub struct Pipeline {
    /// What the config fixed for the daemon's life.
    settings: CycleSettings,
    /// Where snapshots come from.
    source: Source,
    /// Past snapshots, as deep as the deepest plugin asks.
    history: History,
    /// Every symbol's candles, as deep as the plugins ask.
    candles: CandleStore,
    /// Where the history and candles are saved for a warm restart, if they are.
    warm: Option<warm::WarmState>,
    /// Where each cycle takes its generation of plugins and leaves its data for trials.
    plugins: PluginFeed,
    /// Where entries go.
    sink: Box<dyn Sink>,
    /// Whether this daemon may write now: always, or while it leads its pair.
    leadership: Leadership,
    /// Per-plugin counters and breakers, and the `pulse:status` document.
    status: StatusBoard,
    /// Each shadow version's calls and how its results differ from the serving version's.
    shadows: ShadowBoard,
    /// What the status server reads; each finished cycle is published to it.
    telemetry: Arc<Telemetry>,
    /// Lines that could repeat every cycle (bad rows, drops, failures, overruns), throttled.
    repeats: LogThrottle,
    /// The number of the last cycle started.
    cycle: u64,
    /// Interval ticks skipped so far because a cycle overran.
    skipped_ticks: u64,
    /// Entries the previous cycle stored, for `pulse:status`.
    written_last_cycle: usize,
    /// The last good snapshot and when it came, served while the source fails.
    last_good: Option<(Snapshot, Instant)>,
    /// Whether the source is failing, and its error.
    staleness: Staleness,
    /// The `Pushed N symbols` line once a minute, and the failure line.
    push_log: LogGate,
    /// When the pipeline was built: the market's age before any good snapshot.
    created: Instant,
}

impl Pipeline {
    /// A pipeline that takes the generation of plugins to serve from `plugins` at each cycle
    /// start and leaves each cycle's market and analyzer outputs there, for staging new
    /// plugin versions.
    pub fn new(settings: CycleSettings, source: Source, plugins: PluginFeed, sink: Box<dyn Sink>) -> Self {
        Self {
            status: StatusBoard::new(settings.quarantine_after, settings.rollback.clone()),
            shadows: ShadowBoard::new(settings.quarantine_after),
            telemetry: Arc::new(Telemetry::new(
                settings.interval,
                Duration::from_secs(u64::from(settings.ttl)),
            )),
            settings,
            source,
            history: History::default(),
            candles: CandleStore::default(),
            warm: None,
            plugins,
            sink,
            leadership: Leadership::alone(),
            repeats: LogThrottle::per_minute(),
            cycle: 0,
            skipped_ticks: 0,
            written_last_cycle: 0,
            last_good: None,
            staleness: Staleness::default(),
            push_log: LogGate::new(Duration::from_secs(60)),
            created: Instant::now(),
        }
    }

    /// The pipeline writing only while `leadership` says this daemon leads its pair.
    pub fn with_leadership(mut self, leadership: Leadership) -> Self {
        self.leadership = leadership;
        self
    }

    /// The per-plugin counters (calls, time, failures, signals), for summaries.
    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// The metrics, health and plugin list the status server shows.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// Runs a cycle every interval until `shutdown` resolves or `max_cycles` have run; a
    /// daemon just elected leader runs one at once and ticks from there. Ticks missed because a cycle overran are skipped and counted, never bunched. A
    /// shutdown during a cycle lets it finish, its writes included, then returns; a cycle that
    /// is still running one interval after the shutdown is abandoned, so stopping never takes
    /// longer than that.
    pub async fn run(mut self, max_cycles: Option<u64>, shutdown: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let interval = self.settings.interval;
        let leadership = self.leadership.clone();
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    self.telemetry.stopping();
                    self.save_state(true).await;
                    self.log_stop();
                    return Ok(());
                }
                () = tokio::time::sleep_until(next) => {}
                // Just elected: write now, and tick from here.
                () = leadership.elected() => next = tokio::time::Instant::now(),
            }
            let telemetry = self.telemetry.clone();
            let (outcome, stopping) = {
                let cycle = self.run_cycle();
                tokio::pin!(cycle);
                tokio::select! {
                    biased;
                    outcome = &mut cycle => (Some(outcome), false),
                    () = &mut shutdown => {
                        telemetry.stopping();
                        (tokio::time::timeout(interval, cycle).await.ok(), true)
                    }
                }
            };
            let Some(outcome) = outcome else {
                self.save_state(true).await;
                warn!(
                    cycle = self.cycle,
                    "the cycle in flight was still running one interval after the stop signal; exiting without it"
                );
                return Ok(());
            };
            match outcome {
                Ok(None) => {
                    self.save_state(true).await;
                    info!(
                        cycles = self.cycle,
                        "the {} source has ended; stopping",
                        self.source.name()
                    );
                    return Ok(());
                }
                Ok(Some(report)) => self.log_cycle(report),
                Err(e) => error!(cycle = self.cycle, "cycle failed: {e:#}"),
            }
            let last = max_cycles.is_some_and(|max| self.cycle >= max);
            self.save_state(stopping || last).await;
            if stopping {
                self.log_stop();
                return Ok(());
            }
            if last {
                return Ok(());
            }
            next += interval;
            let now = tokio::time::Instant::now();
            if now > next {
                let missed = ((now - next).as_nanos() / interval.as_nanos()) as u64 + 1;
                self.skipped_ticks += missed;
                self.telemetry.ticks_skipped(self.skipped_ticks);
                next += interval.saturating_mul(u32::try_from(missed).unwrap_or(u32::MAX));
                if let Some(due) = self.repeats.admit("overran") {
                    warn!(
                        missed,
                        total = self.skipped_ticks,
                        "cycle overran its interval; skipped ticks{due}"
                    );
                }
            }
        }
    }

    fn log_stop(&self) {
        info!(cycles = self.cycle, "shutting down after cycle {}", self.cycle);
    }

    fn log_cycle(&mut self, report: CycleReport) {
        match report {
            r if r.write.failed == 0 => {
                debug!(
                    cycle = r.cycle,
                    written = r.write.written,
                    dropped = r.dropped,
                    "cycle done"
                );
                if self.push_log.recovered() {
                    info!("unified cache writes recovered");
                }
                // A standby wrote nothing, so it says nothing of pushing.
                if r.wrote && self.push_log.due() {
                    info!("Pushed {} symbols to unified cache", r.symbols);
                }
            }
            r => {
                let reason = r.write.first_error.unwrap_or_default();
                if self.push_log.failing() {
                    error!(
                        cycle = r.cycle,
                        failed = r.write.failed,
                        written = r.write.written,
                        "Error pushing to unified cache: {reason}"
                    );
                }
            }
        }
    }
}
