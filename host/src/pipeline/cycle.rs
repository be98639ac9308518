//! One cycle, top to bottom: serve the market, run the plugin round on it, publish, then score
//! the verdicts. A new per-cycle step goes between the round and the summary, where it has the
//! round's outcome (or, if it needs the markets the plugins saw, inside `plugin_round`, which
//! holds them); one that can wait, like the scoring, goes after the write.
//!
//! The cycle is a trace (`spans.rs`): its span holds the snapshot's, each plugin call's and the
//! write's.

use std::sync::Arc;
use std::time::Instant;

use tracing::{info, Instrument, Span};

use super::market::Served;
use super::publish::Permission;
use super::round::{PluginRound, RoundOutcome};
use super::spans;
use super::Pipeline;
use crate::plugin::Generation;
use crate::shared::clock::now_ms;
use crate::shared::leadership::LeadershipFacts;
use crate::status::{status_entry, CycleFacts, CycleSummary};

impl Pipeline {
    /// Runs one cycle now and returns its summary, as published; `None` when the source has
    /// ended (a replay that stops).
    pub async fn run_cycle(&mut self) -> Option<Arc<CycleSummary>> {
        let span = spans::cycle(self.cycle + 1, self.market.source());
        let summary = self.cycle_steps(&span).instrument(span.clone()).await;
        self.last_trace_id = spans::trace_id(&span);
        summary
    }

    /// The cycle's steps, in order, recording what they did on its `span`.
    async fn cycle_steps(&mut self, span: &Span) -> Option<Arc<CycleSummary>> {
        let started = Instant::now();
        let generation = self.plugins.generation();
        // A warm start's plugin states go to the versions loaded, before their first call; then
        // a version new to this cycle takes the state it starts from as the last cycle left it.
        self.take_back_states(&generation);
        generation.settle_states();
        // 1. The market: a fresh snapshot, or the last good one while it is young enough.
        let snapshot = spans::snapshot(self.market.source());
        let served = self
            .market
            .serve(&generation, &self.telemetry.metrics)
            .instrument(snapshot.clone())
            .await?;
        let symbols = served.snapshot.as_ref().map(|s| s.tickers.len());
        spans::served(&snapshot, symbols, served.age, self.market.error().as_deref());
        drop(snapshot);
        self.cycle += 1;
        // 2. The plugin round on it, whose results are left for trial calls of staged versions.
        let mut round = self.plugin_round(&served, &generation).await;
        // A version that failed its probation gives way from the next cycle.
        for rollback in self.status.take_rollbacks() {
            self.plugins.roll_back(rollback);
        }
        // 3. Publish: the facts, `pulse:status` from them, the write, and the summary to telemetry
        // (the daemon's loop says it in the log, `Publisher::say`; a replay does not).
        let Permission { term, ha } = self.publisher.permission(&generation);
        let facts = self.facts(&served, &round, ha, &generation, started);
        let mut entries = std::mem::take(&mut round.entries);
        entries.push(status_entry(&facts));
        let write_span = spans::write(&entries);
        let write = self
            .publisher
            .write(self.cycle, term, entries, started)
            .instrument(write_span.clone())
            .await;
        spans::write_done(&write_span, &write);
        drop(write_span);
        spans::cycle_done(span, facts.symbols, &write);
        // 4. Score the verdicts against what the market did next, once the write is done.
        self.evaluate(&served, &round, &generation);
        let summary = Arc::new(CycleSummary { facts, write });
        self.telemetry.cycle_done(summary.clone());
        Some(summary)
    }

    /// Hands the plugin states a warm start took back to `generation`'s versions, once, before
    /// the first cycle's calls.
    fn take_back_states(&mut self, generation: &Generation) {
        if self.saved_states.is_empty() {
            return;
        }
        let saved = std::mem::take(&mut self.saved_states);
        let restored = generation.restore_states(&saved);
        info!(
            own = restored.own,
            same_format = restored.same_format,
            refused = restored.refused,
            "warm start: of {} plugin states saved, {} went back to their own version and {} to a version of the same \
             state format; {} were refused (not base64, or larger than their version declares)",
            saved.len(),
            restored.own,
            restored.same_format,
            restored.refused
        );
    }

    /// Runs `generation`'s plugins on the snapshot served, if there is one; with none young
    /// enough, nothing is called and only the status is written, so the market keys expire.
    async fn plugin_round(&mut self, served: &Served, generation: &Generation) -> RoundOutcome {
        let (Some(snapshot), Some(age)) = (&served.snapshot, served.age) else {
            return RoundOutcome::default();
        };
        let markets = self.market.for_plugins(snapshot, age, self.cycle, generation);
        let round = PluginRound {
            cycle: self.cycle,
            generation,
            markets: &markets,
            status: &mut self.status,
            shadows: &mut self.shadows,
            repeats: &mut self.repeats,
        };
        let outcome = round.run(snapshot).await;
        self.plugins
            .leave_trial_input(markets.trial_input(outcome.outputs.clone()));
        outcome
    }

    /// What the cycle knew before its write: everything `pulse:status` states.
    fn facts(
        &mut self,
        served: &Served,
        round: &RoundOutcome,
        ha: Option<LeadershipFacts>,
        generation: &Generation,
        started: Instant,
    ) -> CycleFacts {
        CycleFacts {
            cycle: self.cycle,
            timestamp_ms: now_ms(),
            source: self.market.source(),
            source_error: self.market.error(),
            snapshot_timestamp_ms: served.snapshot.as_ref().map(|s| s.timestamp_ms),
            snapshot_age: served.age,
            symbols: served.snapshot.as_ref().map_or(0, |s| s.tickers.len()),
            interval: self.settings.interval,
            ttl: self.settings.ttl,
            skipped_ticks: self.skipped_ticks,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            dropped: round.dropped,
            plugins: self.status.plugins(generation.plugins().map(|p| p.facts()), |p| {
                self.evaluation.figures(&p.name, &p.fingerprint, false)
            }),
            shadows: self.shadows.publish(generation.shadows.iter().map(|p| p.facts()), |p| {
                self.evaluation.paired(&p.name, &p.fingerprint)
            }),
            written_last_cycle: self.publisher.written_last(),
            cache: self.publisher.totals(),
            ha,
            stream: self.market.stream(),
        }
    }
}
