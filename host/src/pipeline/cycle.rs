//! One cycle's steps: the snapshot to serve, the plugins on it, and the write with the status.

use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::warn;

use super::markets::MarketsByNeeds;
use super::{CycleReport, Pipeline};
use crate::plugin::{Generation, TrialInput};
use crate::shared::clock::now_ms;
use crate::shared::entry::ValidEntry;
use crate::shared::log_throttle::Due;
use crate::shared::market::{Rejections, Snapshot};
use crate::status::{status_entry, CycleFacts, CycleRecord};

/// What the plugins made of a served snapshot.
struct Analysed {
    /// The entries to write, checked.
    entries: Vec<ValidEntry>,
    /// Entries the checks dropped.
    dropped: usize,
    /// Symbols analysed.
    symbols: usize,
}

impl Pipeline {
    /// Runs one cycle now; `None` when the source has ended (a replay that stops).
    pub async fn run_cycle(&mut self) -> Result<Option<CycleReport>> {
        let started = Instant::now();
        let generation = self.plugins.generation();
        let demand = generation.candle_demand();
        self.candles.set_demand(demand);
        self.candles.set_columns(generation.candle_columns());
        let analysed = self.last_good.as_ref().map_or(&[][..], |(s, _)| &s.tickers[..]);
        self.source.want_candles(demand, analysed);
        let fresh = match self.source.snapshot().await {
            Ok(None) => return Ok(None),
            Ok(Some(snapshot)) => self.select(snapshot),
            Err(e) => Err(e),
        };
        self.telemetry.metrics.poll(self.source.name(), fresh.is_err());
        if let Some(fetches) = self.source.candle_fetches() {
            self.telemetry.metrics.candle_fetches(self.source.name(), fetches);
        }
        self.cycle += 1;
        let served = self.serve(fresh, &generation);
        let analysed = match &served {
            Some((snapshot, age)) => self.analyse(snapshot, *age, &generation).await,
            // No snapshot young enough: write only the status and let the market keys expire.
            None => Analysed {
                entries: Vec::new(),
                dropped: 0,
                symbols: 0,
            },
        };
        let age = match &served {
            Some((_, age)) => Some(*age),
            None => self.last_good.as_ref().map(|(_, at)| at.elapsed()),
        };
        let timestamp = served.as_ref().map(|(s, _)| s.timestamp_ms);
        Ok(Some(self.write(analysed, timestamp, age, &generation, started).await))
    }

    /// The snapshot this cycle serves and its age: the fresh one (recorded in the history), else
    /// the last good one while it is younger than `max_age`, else none.
    fn serve(&mut self, fresh: Result<Snapshot>, generation: &Generation) -> Option<(Snapshot, Duration)> {
        match fresh {
            Ok(mut snapshot) => {
                self.staleness.recovered(self.source.name());
                self.history.set_capacity(generation.max_history_depth());
                self.history.record(&snapshot);
                self.take_candles(&snapshot);
                // The store holds the candles now; the snapshot kept for a stale cycle needs none.
                snapshot.candles = Vec::new();
                self.last_good = Some((snapshot.clone(), Instant::now()));
                Some((snapshot, Duration::ZERO))
            }
            Err(e) => {
                let age = self.last_good.as_ref().map(|(_, at)| at.elapsed());
                self.staleness
                    .failed(self.source.name(), &e, age, self.settings.max_age);
                self.last_good
                    .as_ref()
                    .filter(|(_, at)| at.elapsed() <= self.settings.max_age)
                    .map(|(snapshot, at)| (snapshot.clone(), at.elapsed()))
            }
        }
    }

    /// Runs the analyzers on `snapshot`, leaves their results for the next trial call, and runs
    /// the aggregators on them.
    async fn analyse(&mut self, snapshot: &Snapshot, age: Duration, generation: &Generation) -> Analysed {
        let markets = MarketsByNeeds::new(
            snapshot,
            (&self.history, &mut self.candles),
            self.cycle,
            self.source.name(),
            age,
            generation,
        );
        let outputs = self.run_analyzers(generation, &markets).await;
        self.plugins.leave_trial_input(TrialInput {
            market: markets.widest(),
            holds: markets.holds(),
            outputs: outputs.clone(),
        });
        let aggregated = self.run_aggregators(generation, &markets, outputs.clone()).await;
        // The shadows then, on the same input, once the serving calls no longer need the cores.
        let shadow_analyzers = self.start_shadow_analyzers(generation, &markets);
        let shadow_aggregators = self.start_shadow_aggregators(generation, &markets, &outputs);
        if !shadow_analyzers.is_empty() {
            let symbols: Vec<String> = snapshot.tickers.iter().map(|t| t.symbol.clone()).collect();
            self.compare_shadow_analyzers(generation, shadow_analyzers, &symbols, &outputs)
                .await;
        }
        self.compare_shadow_aggregators(generation, shadow_aggregators, &aggregated)
            .await;
        // A version that failed its probation gives way from the next cycle.
        for rollback in self.status.take_rollbacks() {
            self.plugins.roll_back(rollback);
        }
        Analysed {
            entries: aggregated.entries,
            dropped: aggregated.dropped,
            symbols: snapshot.tickers.len(),
        }
    }

    /// Adds `pulse:status` to the cycle's entries, writes them, and publishes the cycle.
    async fn write(
        &mut self,
        analysed: Analysed,
        snapshot_timestamp_ms: Option<i64>,
        age: Option<Duration>,
        generation: &Generation,
        started: Instant,
    ) -> CycleReport {
        let Analysed {
            mut entries,
            dropped,
            symbols,
        } = analysed;
        let plugins = self.status.plugins(generation.plugins().map(|p| p.facts()));
        self.leadership.serve(|| generation.plugin_set());
        // Read together, so the status written never names another role than the write's.
        let (may_write, ha) = self.leadership.now(self.settings.write_deadline);
        let facts = CycleFacts {
            cycle: self.cycle,
            timestamp_ms: now_ms(),
            snapshot_timestamp_ms,
            snapshot_age_ms: age.map(|a| a.as_millis() as u64),
            source: self.source.name(),
            source_error: self.staleness.error(),
            symbols,
            interval: self.settings.interval,
            ttl: self.settings.ttl,
            skipped_ticks: self.skipped_ticks,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            written_last_cycle: self.written_last_cycle,
            dropped,
            cache: self.sink.stats(),
            ha: Some(ha).filter(|ha| ha.id.is_some()),
        };
        entries.push(status_entry(&facts, &plugins));
        let write = match may_write {
            Some(term) => self.write_in(term, entries).await,
            None => self.stand_by(),
        };
        self.written_last_cycle = write.written;
        // With no good snapshot yet, the market data is as old as the daemon.
        let market_age = age.unwrap_or_else(|| self.created.elapsed());
        self.telemetry.metrics.snapshot_age(market_age.as_secs_f64());
        self.telemetry.cycle_done(CycleRecord {
            cycle: self.cycle,
            seconds: started.elapsed().as_secs_f64(),
            plugins,
            shadows: self.shadows.publish(generation.shadows.iter().map(|p| p.facts())),
            cache: self.sink.stats(),
            write_error: (write.failed > 0).then(|| write.first_error.clone().unwrap_or_default()),
            wrote: may_write.is_some(),
            ha: facts.ha,
        });
        CycleReport {
            cycle: self.cycle,
            symbols,
            dropped,
            write,
            wrote: may_write.is_some(),
        }
    }

    /// Writes the cycle's entries in `term`, each item carrying it, for as long as the lease of
    /// that term is proven: the writer checks before every socket write and resend.
    async fn write_in(&mut self, term: i64, entries: Vec<ValidEntry>) -> crate::cache::WriteReport {
        let leadership = &self.leadership;
        let holds = move || leadership.may_write(Duration::ZERO) == Some(term);
        let fence = crate::cache::Fence { term, holds: &holds };
        self.sink.write(self.cycle, entries, fence).await
    }

    /// What a cycle writes when this daemon may not: nothing. A leader whose lease is not
    /// proven for the length of a write says so once a minute.
    fn stand_by(&mut self) -> crate::cache::WriteReport {
        if matches!(self.leadership.facts().role, crate::ha::Role::Leader { .. }) {
            if let Some(due) = self.repeats.admit("ha: lease not proven") {
                warn!(
                    cycle = self.cycle,
                    "ha: leader, but its lease is not proven to outlast a write; not writing{due}"
                );
            }
        }
        crate::cache::WriteReport::default()
    }

    /// Takes the snapshot's candles into the store; refused ones are counted by reason, and
    /// said in a line when a set of reasons starts and then at most once a minute.
    fn take_candles(&mut self, snapshot: &Snapshot) {
        let rejected = self.candles.record(snapshot);
        self.telemetry.metrics.candles_rejected(&rejected);
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

    /// Validates and selects the cycle's symbols. Dropped rows are counted by reason; one line
    /// summarises them when a set of reasons starts and then at most once a minute, since an
    /// exchange may serve the same bad row every cycle.
    fn select(&mut self, snapshot: Snapshot) -> Result<Snapshot> {
        let offered = snapshot.tickers.len();
        let (selected, rejected) = snapshot.select(&self.settings.selection);
        self.telemetry.metrics.rejected(&rejected);
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
}
