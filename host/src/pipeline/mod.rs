//! The cycle: snapshot → history and candles → analyzers → aggregators → cache, every interval.
//!
//! The pipeline takes the current generation of plugins at the start of each cycle, so a
//! generation replaced between cycles serves whole cycles only. A cycle is three steps, each
//! with its own owner: the market served ([`market`], which owns the source, the history and
//! the candles), the plugin round on it ([`round`], one value per cycle), and the write
//! ([`publish`], which owns the sink and the permission to write). `cycle.rs` reads them top
//! to bottom; this file holds the pipeline and its interval loop.

mod call;
mod cycle;
mod evaluate;
mod input_budget;
mod market;
mod plugin_markets;
mod publish;
mod round;
mod spans;
mod staleness;
mod warm;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::cache::Sink;
use crate::evaluation::Evaluation;
use crate::ha::Leadership;
use crate::plugin::PluginFeed;
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::Selection;
use crate::shared::warm_start::SavedVersionState;
use crate::source::Source;
use crate::status::{ShadowBoard, StatusBoard, Telemetry};
use market::Market;
use publish::Publisher;

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
    /// How verdicts are scored against what the market did next.
    pub evaluation: crate::config::EvaluationConfig,
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
            evaluation: config.evaluation.clone(),
        }
    }
}

/// Runs cycles; owns everything that changes from one cycle to the next.
pub struct Pipeline {
    /// What the config fixed for the daemon's life.
    settings: CycleSettings,
    /// Step 1: the source and what is kept of its market.
    market: Market,
    /// Where each cycle takes its generation of plugins and leaves its data for trials.
    plugins: PluginFeed,
    /// Per-plugin counters and breakers, read and written by each plugin round.
    status: StatusBoard,
    /// Each shadow version's calls and how its results differ from the serving version's.
    shadows: ShadowBoard,
    /// Step 4: every analyzer version's verdicts scored against what the market did next.
    evaluation: Evaluation,
    /// Step 3: the sink, and whether this daemon may write.
    publisher: Publisher,
    /// What the status server reads; each finished cycle is published to it.
    telemetry: Arc<Telemetry>,
    /// The plugin rounds' lines (drops, failures) and the loop's own (overruns), throttled.
    repeats: LogThrottle,
    /// The number of the last cycle started.
    cycle: u64,
    /// Interval ticks skipped so far because a cycle overran.
    skipped_ticks: u64,
    /// The last cycle's trace id while traces are on, for the lines said after it (a failed
    /// write, an overrun).
    last_trace_id: Option<String>,
    /// The plugins' states taken back by a warm start, handed to the versions loaded when the
    /// first cycle starts.
    saved_states: Vec<SavedVersionState>,
}

/// Why the interval loop ended.
enum Stop {
    /// The stop signal came between cycles, or during one that then finished.
    Signal,
    /// The stop signal came during a cycle that was still running one interval later.
    Abandoned,
    /// The source has ended (a replay that stops).
    SourceEnded,
    /// The cycles asked for have run.
    Done,
}

impl Pipeline {
    /// A pipeline that takes the generation of plugins to serve from `plugins` at each cycle
    /// start and leaves each cycle's market and analyzer outputs there, for staging new
    /// plugin versions.
    pub fn new(settings: CycleSettings, source: Source, plugins: PluginFeed, sink: Box<dyn Sink>) -> Self {
        Self {
            market: Market::new(source, settings.selection.clone(), settings.max_age),
            status: StatusBoard::new(settings.quarantine_after, settings.rollback.clone()),
            shadows: ShadowBoard::new(settings.quarantine_after),
            evaluation: Evaluation::new(settings.evaluation.clone()),
            publisher: Publisher::new(sink, Leadership::alone(), settings.write_deadline),
            telemetry: Arc::new(Telemetry::new(
                settings.interval,
                Duration::from_secs(u64::from(settings.ttl)),
            )),
            settings,
            plugins,
            repeats: LogThrottle::per_minute(),
            cycle: 0,
            skipped_ticks: 0,
            last_trace_id: None,
            saved_states: Vec::new(),
        }
    }

    /// The pipeline writing only while `leadership` says this daemon leads its pair.
    pub fn with_leadership(mut self, leadership: Leadership) -> Self {
        self.publisher.set_leadership(leadership);
        self
    }

    /// The pipeline taking back the history, candles, evaluation and plugin states saved in
    /// `dir` by the last run on the same source, if the source goes on with the same market and
    /// the state still holds, and saving them there from now on.
    pub fn warm_start(mut self, dir: Option<PathBuf>) -> Self {
        let Some((evaluation, states)) = self.market.warm_start(dir, self.settings.interval) else {
            return self;
        };
        self.saved_states = states;
        let Some(saved) = evaluation else {
            return self;
        };
        match self.evaluation.restore(saved) {
            Some((samples, versions)) => info!(
                "warm start: took back {samples} verdict samples pending and the figures of {versions} analyzer versions"
            ),
            None => info!("the saved verdict samples and figures are not taken back: they were scored at other horizons or sampling, or do not hold"),
        }
        self
    }

    /// The per-plugin counters (calls, time, failures, signals), for summaries.
    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// The verdicts scored so far, for `pulse replay --evaluate`'s report.
    pub fn evaluation(&self) -> &Evaluation {
        &self.evaluation
    }

    /// The metrics, health and plugin list the status server shows.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// Runs a cycle every interval until `shutdown` resolves or `max_cycles` have run; a
    /// daemon just elected leader runs one at once and ticks from there. A shutdown during a
    /// cycle lets it finish, its writes included, then returns; a cycle that is still running
    /// one interval after the shutdown is abandoned, so stopping never takes longer than that.
    /// The history and candles are saved on the way out, whatever the reason.
    pub async fn run(mut self, max_cycles: Option<u64>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut next = Instant::now();
        let stop = loop {
            if !self.wait_for_tick(&mut next, &mut shutdown).await {
                self.telemetry.stopping();
                break Stop::Signal;
            }
            if let Err(stop) = self.cycle_unless_abandoned(&mut shutdown).await {
                break stop;
            }
            if max_cycles.is_some_and(|max| self.cycle >= max) {
                break Stop::Done;
            }
            self.market
                .save(false, &self.evaluation, &self.plugins.generation())
                .await;
            self.keep_cadence(&mut next);
        };
        self.market
            .save(true, &self.evaluation, &self.plugins.generation())
            .await;
        let cycles = self.cycle;
        match stop {
            Stop::Signal => info!(cycles, "shutting down after cycle {cycles}"),
            Stop::Abandoned => warn!(
                cycle = cycles,
                "the cycle in flight was still running one interval after the stop signal; exiting without it"
            ),
            Stop::SourceEnded => info!(cycles, "the {} source has ended; stopping", self.market.source()),
            Stop::Done => {}
        }
    }

    /// Waits for the tick at `next`, or for this daemon's election, which writes at once and
    /// ticks from there; false when the stop signal comes first.
    async fn wait_for_tick<F: Future<Output = ()>>(&self, next: &mut Instant, shutdown: &mut Pin<&mut F>) -> bool {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => false,
            () = tokio::time::sleep_until(*next) => true,
            () = self.publisher.leadership().elected() => {
                *next = Instant::now();
                true
            }
        }
    }

    /// Runs a cycle. A stop signal during it lets it finish for at most one interval more;
    /// `Err` says why the loop ends after it.
    async fn cycle_unless_abandoned<F: Future<Output = ()>>(&mut self, shutdown: &mut Pin<&mut F>) -> Result<(), Stop> {
        let telemetry = self.telemetry.clone();
        let interval = self.settings.interval;
        let (finished, signalled) = {
            let cycle = self.run_cycle();
            tokio::pin!(cycle);
            tokio::select! {
                biased;
                summary = &mut cycle => (Some(summary), false),
                () = shutdown.as_mut() => {
                    telemetry.stopping();
                    (tokio::time::timeout(interval, cycle).await.ok(), true)
                }
            }
        };
        let Some(finished) = finished else {
            return Err(Stop::Abandoned);
        };
        let Some(summary) = finished else {
            return Err(Stop::SourceEnded);
        };
        self.publisher.say(&summary, self.last_trace_id.as_deref());
        match signalled {
            true => Err(Stop::Signal),
            false => Ok(()),
        }
    }

    /// Moves `next` one interval on. Ticks missed because the cycle overran are skipped and
    /// counted, never bunched.
    fn keep_cadence(&mut self, next: &mut Instant) {
        let interval = self.settings.interval;
        *next += interval;
        let now = Instant::now();
        if now <= *next {
            return;
        }
        let missed = ((now - *next).as_nanos() / interval.as_nanos()) as u64 + 1;
        self.skipped_ticks += missed;
        self.telemetry.ticks_skipped(self.skipped_ticks);
        *next += interval.saturating_mul(u32::try_from(missed).unwrap_or(u32::MAX));
        if let Some(due) = self.repeats.admit("overran") {
            warn!(
                missed,
                total = self.skipped_ticks,
                trace_id = self.last_trace_id.as_deref(),
                "cycle overran its interval; skipped ticks{due}"
            );
        }
    }
}
