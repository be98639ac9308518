//! The cycle's first step: the market it serves. It owns the source, the history and candles
//! Pulse keeps of it (saved for a warm restart where the source goes on), and the last good
//! snapshot, served while the source fails until it is `max_age` old.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::{info, warn};

use super::plugin_markets::PluginMarkets;
use super::staleness::Staleness;
use super::warm::WarmState;
use crate::candles::CandleStore;
use crate::evaluation::{Evaluation, SavedEvaluation};
use crate::history::History;
use crate::plugin::Generation;
use crate::shared::clock::now_ms;
use crate::shared::log_throttle::{Due, LogThrottle};
use crate::shared::market::{Rejections, Selection, Snapshot};
use crate::shared::stream_health::StreamHealth;
use crate::shared::text::quoted_path;
use crate::shared::warm_start::{SavedVersionState, WarmStart};
use crate::source::Source;
use crate::status::Metrics;

/// The source and what Pulse keeps of its market.
pub(super) struct Market {
    /// Where snapshots come from.
    source: Source,
    /// Which symbols to analyse.
    selection: Selection,
    /// How old the last good snapshot may get before market keys stop.
    max_age: Duration,
    /// Past snapshots, as deep as the deepest plugin asks.
    history: History,
    /// Every symbol's candles, as deep as the plugins ask.
    candles: CandleStore,
    /// Where the history and candles are saved for a warm restart, if they are.
    warm: Option<WarmState>,
    /// The last good snapshot and when it came, served while the source fails.
    last_good: Option<(Snapshot, Instant)>,
    /// Whether the source is failing, and its error.
    staleness: Staleness,
    /// Lines that could repeat every poll (bad rows, refused candles, failed saves), throttled.
    repeats: LogThrottle,
    /// The source's streams at the last snapshot, if it streams.
    stream: Option<StreamHealth>,
}

/// What a cycle serves.
pub(super) struct Served {
    /// The snapshot, unless none is young enough: then only the status is written, and the
    /// market keys expire.
    pub(super) snapshot: Option<Snapshot>,
    /// The age of the snapshot served (zero when fresh), or of the last good one when none is;
    /// `None` before the first good snapshot.
    pub(super) age: Option<Duration>,
}

impl Market {
    /// The market of `source`, cut to `selection`, served stale for at most `max_age`.
    pub(super) fn new(source: Source, selection: Selection, max_age: Duration) -> Self {
        Self {
            source,
            selection,
            max_age,
            history: History::default(),
            candles: CandleStore::default(),
            warm: None,
            last_good: None,
            staleness: Staleness::default(),
            repeats: LogThrottle::per_minute(),
            stream: None,
        }
    }

    /// The source's streams at the last snapshot, if it streams.
    pub(super) fn stream(&self) -> Option<StreamHealth> {
        self.stream.clone()
    }

    /// The source's name, as `pulse:status` gives it.
    pub(super) fn source(&self) -> &'static str {
        self.source.name()
    }

    /// The source's error while it fails.
    pub(super) fn error(&self) -> Option<String> {
        self.staleness.error()
    }

    /// Polls the source for `generation`'s needs and says what the cycle serves: the fresh
    /// snapshot (recorded in the history and candles), else the last good one while it is
    /// younger than `max_age`, else none. `None` when the source has ended (a replay that
    /// stops).
    pub(super) async fn serve(&mut self, generation: &Generation, metrics: &Metrics) -> Option<Served> {
        let demand = generation.candle_demand();
        self.candles.set_demand(demand);
        self.candles.set_columns(generation.candle_columns());
        let analysed = self.last_good.as_ref().map_or(&[][..], |(s, _)| &s.tickers[..]);
        self.source.want_candles(demand, analysed);
        let fresh = match self.source.snapshot().await {
            Ok(None) => return None,
            Ok(Some(snapshot)) => self.select(snapshot, metrics),
            Err(e) => Err(e),
        };
        metrics.poll(self.source.name(), fresh.is_err());
        if let Some(fetches) = self.source.candle_fetches() {
            metrics.candle_fetches(self.source.name(), fetches);
        }
        self.stream = self.source.stream_health();
        if let Some(stream) = &self.stream {
            metrics.stream(self.source.name(), stream);
        }
        Some(match fresh {
            Ok(snapshot) => self.fresh(snapshot, generation, metrics),
            Err(e) => self.stale(&e),
        })
    }

    /// Records a good snapshot and serves it.
    fn fresh(&mut self, mut snapshot: Snapshot, generation: &Generation, metrics: &Metrics) -> Served {
        self.staleness.recovered(self.source.name());
        self.history.set_capacity(generation.max_history_depth());
        self.history.record(&snapshot);
        self.take_candles(&snapshot, metrics);
        // The store holds the candles now; the snapshot kept for a stale cycle needs none.
        snapshot.candles = Vec::new();
        self.last_good = Some((snapshot.clone(), Instant::now()));
        Served {
            snapshot: Some(snapshot),
            age: Some(Duration::ZERO),
        }
    }

    /// Notes a failed poll and serves the last good snapshot while it is young enough.
    fn stale(&mut self, error: &anyhow::Error) -> Served {
        let age = self.last_good.as_ref().map(|(_, at)| at.elapsed());
        self.staleness.failed(self.source.name(), error, age, self.max_age);
        let snapshot = self
            .last_good
            .as_ref()
            .filter(|(_, at)| at.elapsed() <= self.max_age)
            .map(|(snapshot, _)| snapshot.clone());
        Served { snapshot, age }
    }

    /// The markets `generation`'s versions asked for, from `snapshot` served in `cycle`.
    pub(super) fn for_plugins(
        &mut self,
        snapshot: &Snapshot,
        age: Duration,
        cycle: u64,
        generation: &Generation,
    ) -> PluginMarkets {
        let source = self.source.name();
        PluginMarkets::new(
            snapshot,
            (&self.history, &mut self.candles),
            cycle,
            source,
            age,
            generation,
        )
    }

    /// Validates and selects the cycle's symbols. Dropped rows are counted by reason; one line
    /// summarises them when a set of reasons starts and then at most once a minute, since an
    /// exchange may serve the same bad row every cycle.
    fn select(&mut self, snapshot: Snapshot, metrics: &Metrics) -> Result<Snapshot> {
        let offered = snapshot.tickers.len();
        let (selected, rejected) = snapshot.select(&self.selection);
        metrics.rejected(&rejected);
        if let Some((reasons, due)) = self.repeating_reasons("rows", &rejected) {
            warn!(
                source = self.source.name(),
                "dropped {} of {offered} market rows: {reasons}{due}",
                rejected.values().sum::<usize>(),
            );
        }
        if selected.tickers.is_empty() {
            anyhow::bail!("no usable ticker among the {offered} the source returned");
        }
        Ok(selected)
    }

    /// Takes the snapshot's candles into the store; refused ones are counted by reason, and
    /// said in a line when a set of reasons starts and then at most once a minute.
    fn take_candles(&mut self, snapshot: &Snapshot, metrics: &Metrics) {
        let rejected = self.candles.record(snapshot);
        metrics.candles_rejected(&rejected);
        if let Some((reasons, due)) = self.repeating_reasons("candles", &rejected) {
            warn!(source = self.source.name(), "dropped candles: {reasons}{due}");
        }
    }

    /// `rejected`'s counts by reason as one text, with what ends a repeated line, when a set of
    /// reasons of `what` starts and then at most once a minute; `None` otherwise.
    fn repeating_reasons(&mut self, what: &str, rejected: &Rejections) -> Option<(String, Due)> {
        let why: Vec<&str> = rejected.keys().copied().collect();
        if why.is_empty() {
            return None;
        }
        let due = self.repeats.admit(&format!("{what}: {}", why.join(", ")))?;
        let reasons: Vec<String> = rejected.iter().map(|(why, n)| format!("{n} {why}")).collect();
        Some((reasons.join(", "), due))
    }

    /// Takes back the state saved in `dir` by the last run on the same source, if the source
    /// goes on with the same market and the state still holds, and saves there from now on
    /// (what it took back opens the recording, if one is made); a replay of a recording that
    /// opens so takes back what it says instead. Returns the evaluation's part and the plugins'
    /// states, for the pipeline to take back.
    pub(super) fn warm_start(
        &mut self,
        dir: Option<PathBuf>,
        interval: Duration,
    ) -> Option<(Option<SavedEvaluation>, Vec<SavedVersionState>)> {
        if let Some(recorded) = self.source.recorded_warm() {
            return Some((None, self.take_recorded(recorded)));
        }
        let dir = dir.filter(|_| self.source.resumable())?;
        let warm = WarmState::new(&dir, self.source.name());
        let taken_at_ms = now_ms();
        let loading = std::time::Instant::now();
        let taken = match warm.load(&mut self.history, &mut self.candles, taken_at_ms, interval) {
            Ok(r) => {
                let (history, candles) = (&self.history, &self.candles);
                let plugin_states = r.plugin_states.clone();
                self.source.record_warm(|| WarmStart {
                    taken_at_ms,
                    history: history.saved(),
                    candles: candles.saved(),
                    plugin_states,
                });
                let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
                info!(
                    file = %quoted_path(warm.path()),
                    load_ms,
                    "warm start: took back the history of {} symbols ({} left out) and {} candle series ({} candles refused) in {load_ms:.0} ms",
                    r.history_symbols,
                    r.left_out,
                    r.candle_series,
                    r.candles_refused
                );
                (r.evaluation, r.plugin_states)
            }
            Err(e) if !warm.path().exists() => {
                info!(file = %quoted_path(warm.path()), "no saved state to start from: {e:#}");
                (None, Vec::new())
            }
            Err(e) => {
                warn!("cold start: the saved state is not used: {e:#}");
                (None, Vec::new())
            }
        };
        self.warm = Some(warm);
        Some(taken)
    }

    /// Takes back what a replayed recording's daemon took back at its warm start (the
    /// candles checked against the same time); returns its plugin states.
    fn take_recorded(&mut self, recorded: WarmStart) -> Vec<SavedVersionState> {
        let symbols = recorded.history.len();
        let left_out = self.history.restore(recorded.history);
        let refused: usize = self
            .candles
            .restore(&recorded.candles, recorded.taken_at_ms)
            .values()
            .sum();
        info!(
            "replay: starting where the recorded daemon started, from the history of {symbols} symbols ({left_out} left out), \
             {} candle series ({refused} candles refused) and {} plugin states it took back",
            recorded.candles.len(),
            recorded.plugin_states.len()
        );
        recorded.plugin_states
    }

    /// Saves the history, candles, `evaluation` and the states of `generation`'s versions if a
    /// save is due, or at once when `stopping`.
    pub(super) async fn save(&mut self, stopping: bool, evaluation: &Evaluation, generation: &Generation) {
        let Some(warm) = self.warm.as_mut() else {
            return;
        };
        if !stopping && !warm.due() {
            return;
        }
        let saved = (evaluation.saved(), generation.saved_states());
        match warm.save((&self.history, &self.candles), saved, now_ms()).await {
            Ok(cost) => info!(
                file = %quoted_path(warm.path()),
                bytes = cost.bytes,
                copy_ms = cost.copied.as_secs_f64() * 1000.0,
                write_ms = cost.written.as_secs_f64() * 1000.0,
                "saved the state for a warm restart: {} bytes, copied in {:.1} ms, written in {:.1} ms",
                cost.bytes,
                cost.copied.as_secs_f64() * 1000.0,
                cost.written.as_secs_f64() * 1000.0
            ),
            Err(e) => {
                if let Some(due) = self.repeats.admit("saving the state") {
                    warn!("cannot save the state for a warm restart: {e:#}{due}");
                }
            }
        }
    }
}
