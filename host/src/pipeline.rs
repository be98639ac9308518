//! The cycle: snapshot → history → analyzers → aggregators → cache, every interval.
//!
//! Data flows one way. The pipeline owns the source, the history and the status board; it
//! takes the current plugin registry at the start of each cycle, so a registry replaced
//! between cycles serves whole cycles only.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::cache::{validate, EntryRules, Sink, WriteReport};
use crate::history::History;
use crate::plugin::checks::handed_over_bytes;
use crate::plugin::{call_on_pool, CallError, LoadedPlugin, Registry, TrialInput};
use crate::shared::call::CallOutcome;
use crate::shared::clock::now_ms;
use crate::shared::contract::{AnalyzerOutput, Market};
use crate::shared::entry::ValidEntry;
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::{Selection, Snapshot};
use crate::source::Source;
use crate::status::{CycleFacts, StatusBoard, Telemetry};

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
    /// Largest cache value accepted, in bytes.
    pub max_value_bytes: usize,
    /// Shortest TTL an entry may ask for.
    pub min_ttl: u32,
    /// Longest TTL an entry may ask for.
    pub max_ttl: u32,
    /// Failed cycles in a row before a plugin is quarantined.
    pub quarantine_after: u64,
}

impl CycleSettings {
    /// The settings `config` asks for.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            interval: config.cycle_interval(),
            selection: config.selection(),
            max_age: Duration::from_secs(config.market.max_age.0),
            ttl: config.ttl.0,
            max_value_bytes: usize::try_from(config.sandbox.max_value_bytes.0).unwrap_or(usize::MAX),
            min_ttl: config.sandbox.min_ttl.0,
            max_ttl: config.sandbox.max_ttl.0,
            quarantine_after: config.sandbox.quarantine_after.0,
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
}

/// Runs cycles; owns everything that changes from one cycle to the next.
pub struct Pipeline {
    settings: CycleSettings,
    source: Source,
    history: History,
    registry: watch::Receiver<Arc<Registry>>,
    trial: watch::Sender<Option<TrialInput>>,
    sink: Sink,
    status: StatusBoard,
    telemetry: Arc<Telemetry>,
    repeats: LogThrottle,
    cycle: u64,
    skipped_ticks: u64,
    written_last_cycle: usize,
    last_good: Option<(Snapshot, Instant)>,
    staleness: Staleness,
    push_log: LogGate,
    created: Instant,
}

impl Pipeline {
    /// A pipeline that reads plugins from `registry` at each cycle start and leaves each
    /// cycle's market and analyzer outputs in `trial`, for staging new plugin versions.
    pub fn new(
        settings: CycleSettings,
        source: Source,
        registry: watch::Receiver<Arc<Registry>>,
        trial: watch::Sender<Option<TrialInput>>,
        sink: Sink,
    ) -> Self {
        Self {
            status: StatusBoard::new(settings.quarantine_after),
            telemetry: Arc::new(Telemetry::new(
                settings.interval,
                Duration::from_secs(u64::from(settings.ttl)),
            )),
            settings,
            source,
            history: History::default(),
            registry,
            trial,
            sink,
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

    /// The per-plugin counters (calls, time, failures, signals), for summaries.
    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// The metrics, health and plugin list the status server shows.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// Runs a cycle every interval until `shutdown` resolves or `max_cycles` have run.
    /// Ticks missed because a cycle overran are skipped and counted, never bunched. A
    /// shutdown during a cycle lets it finish, its writes included, then returns; a cycle that
    /// is still running one interval after the shutdown is abandoned, so stopping never takes
    /// longer than that.
    pub async fn run(mut self, max_cycles: Option<u64>, shutdown: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let interval = self.settings.interval;
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    self.telemetry.stopping();
                    self.log_stop();
                    return Ok(());
                }
                () = tokio::time::sleep_until(next) => {}
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
                warn!(
                    cycle = self.cycle,
                    "the cycle in flight was still running one interval after the stop signal; exiting without it"
                );
                return Ok(());
            };
            match outcome {
                Ok(None) => {
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
            if stopping {
                self.log_stop();
                return Ok(());
            }
            if max_cycles.is_some_and(|max| self.cycle >= max) {
                return Ok(());
            }
            next += interval;
            let now = tokio::time::Instant::now();
            if now > next {
                let missed = ((now - next).as_nanos() / interval.as_nanos()) as u64 + 1;
                self.skipped_ticks += missed;
                self.telemetry.metrics.skipped(missed);
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

    /// Runs one cycle now; `None` when the source has ended (a replay that stops).
    pub async fn run_cycle(&mut self) -> Result<Option<CycleReport>> {
        let started = Instant::now();
        let registry = self.registry.borrow_and_update().clone();
        let fresh = match self.source.snapshot().await {
            Ok(None) => return Ok(None),
            Ok(Some(snapshot)) => self.select(snapshot),
            Err(e) => Err(e),
        };
        self.telemetry.metrics.poll(self.source.name(), fresh.is_err());
        self.cycle += 1;
        let served = match fresh {
            Ok(snapshot) => {
                self.staleness.recovered(self.source.name());
                self.history.set_capacity(registry.max_history_depth());
                self.history.record(&snapshot);
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
        };

        let (mut entries, dropped, symbols, age) = match &served {
            Some((snapshot, age)) => {
                let markets =
                    MarketsByDepth::new(snapshot, &self.history, self.cycle, self.source.name(), *age, &registry);
                let outputs = self.run_analyzers(&registry, &markets).await;
                self.trial.send_replace(Some(TrialInput {
                    market: markets.deepest(),
                    outputs: outputs.clone(),
                }));
                let (entries, dropped) = self.run_aggregators(&registry, &markets, outputs).await;
                (entries, dropped, snapshot.tickers.len(), Some(*age))
            }
            // No snapshot young enough: write only the status and let the market keys expire.
            None => (Vec::new(), 0, 0, self.last_good.as_ref().map(|(_, at)| at.elapsed())),
        };
        let plugins = self.status.plugins(registry.plugins().map(|p| p.facts()));
        entries.push(self.status.entry(
            &CycleFacts {
                cycle: self.cycle,
                timestamp_ms: now_ms(),
                snapshot_timestamp_ms: served.as_ref().map(|(s, _)| s.timestamp_ms),
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
            },
            &plugins,
        ));
        let write = self.sink.write(self.cycle, &entries).await;
        self.written_last_cycle = write.written;
        let metrics = &self.telemetry.metrics;
        metrics.cycle(started.elapsed().as_secs_f64());
        metrics.cache(&self.sink.stats());
        // With no good snapshot yet, the market data is as old as the daemon.
        metrics.snapshot_age(age.unwrap_or_else(|| self.created.elapsed()).as_secs_f64());
        metrics.plugins(plugins.iter().map(|p| p.labels()));
        let write_error = (write.failed > 0).then(|| write.first_error.clone().unwrap_or_default());
        if write_error.is_none() {
            metrics.pushed(now_ms());
        }
        self.telemetry.cycle_done(self.cycle, plugins, write_error);
        Ok(Some(CycleReport {
            cycle: self.cycle,
            symbols,
            dropped,
            write,
        }))
    }

    /// Validates and selects the cycle's symbols. Dropped rows are counted by reason; one line
    /// summarises them when a set of reasons starts and then at most once a minute, since an
    /// exchange may serve the same bad row every cycle.
    fn select(&mut self, snapshot: Snapshot) -> Result<Snapshot> {
        let offered = snapshot.tickers.len();
        let (selected, rejected) = snapshot.select(&self.settings.selection);
        self.telemetry.metrics.rejected(&rejected);
        let why: Vec<&str> = rejected.keys().copied().collect();
        if let Some(due) = (!why.is_empty())
            .then(|| self.repeats.admit(&format!("rows: {}", why.join(", "))))
            .flatten()
        {
            let reasons: Vec<String> = rejected.iter().map(|(why, n)| format!("{n} {why}")).collect();
            warn!(
                source = self.source.name(),
                "dropped {} of {offered} market rows: {}{due}",
                rejected.values().sum::<usize>(),
                reasons.join(", ")
            );
        }
        if selected.tickers.is_empty() {
            anyhow::bail!("no usable ticker among the {offered} the source returned");
        }
        Ok(selected)
    }

    /// The plugins the circuit breaker lets run this cycle.
    fn admitted(&mut self, plugins: &[Arc<LoadedPlugin>]) -> Vec<Arc<LoadedPlugin>> {
        plugins
            .iter()
            .filter(|p| self.status.admits(&p.id, &p.fingerprint, self.cycle))
            .cloned()
            .collect()
    }

    /// Calls every analyzer the breaker admits, in parallel; failed ones are logged and left out.
    async fn run_analyzers(&mut self, registry: &Registry, markets: &MarketsByDepth) -> Arc<Vec<AnalyzerOutput>> {
        let admitted = self.admitted(&registry.analyzers);
        let calls = admitted.iter().map(|plugin| {
            let market = markets.for_plugin(plugin);
            call_blocking(plugin.clone(), move |p| p.analyze(&market))
        });
        let mut outputs = Vec::with_capacity(admitted.len());
        for (plugin, (outcome, result)) in admitted.iter().zip(join_in_order(calls).await) {
            self.record(plugin, &outcome);
            match result {
                Ok((analyses, dropped)) => {
                    self.status.signals(&plugin.id, &analyses);
                    self.count_drops(&plugin.id, dropped);
                    self.note_drops(
                        &plugin.id,
                        "verdicts",
                        dropped,
                        "verdicts whose score is not a finite number in 0..100",
                    );
                    outputs.push(AnalyzerOutput {
                        plugin: plugin.id.to_string(),
                        version: plugin.info.version.clone(),
                        analyses,
                    });
                }
                Err(e) => self.note_failure(plugin, "analyzer", &e),
            }
        }
        Arc::new(outputs)
    }

    /// Calls every aggregator the breaker admits, in parallel, and validates their entries;
    /// returns the entries to write and how many were dropped.
    async fn run_aggregators(
        &mut self,
        registry: &Registry,
        markets: &MarketsByDepth,
        outputs: Arc<Vec<AnalyzerOutput>>,
    ) -> (Vec<ValidEntry>, usize) {
        let admitted = self.admitted(&registry.aggregators);
        let inputs: Vec<Arc<Vec<AnalyzerOutput>>> =
            admitted.iter().map(|plugin| self.fit_input(plugin, &outputs)).collect();
        let calls = admitted.iter().zip(inputs).map(|(plugin, outputs)| {
            let market = markets.for_plugin(plugin);
            call_blocking(plugin.clone(), move |p| p.aggregate(&market, &outputs))
        });
        let mut entries = Vec::new();
        let mut dropped = 0;
        for (plugin, (outcome, result)) in admitted.iter().zip(join_in_order(calls).await) {
            self.record(plugin, &outcome);
            let produced = match result {
                Ok(produced) => produced,
                Err(e) => {
                    self.note_failure(plugin, "aggregator", &e);
                    continue;
                }
            };
            let rules = EntryRules {
                owner: &plugin.id,
                key_prefixes: &plugin.info.key_prefixes,
                text_keys: &plugin.policy.text_keys,
                default_ttl: self.settings.ttl,
                min_ttl: self.settings.min_ttl,
                max_ttl: self.settings.max_ttl,
                max_value_bytes: self.settings.max_value_bytes,
            };
            let mut first_reason = None;
            let mut own_dropped = 0;
            for entry in produced {
                match validate(entry, &rules) {
                    Ok(valid) => entries.push(valid),
                    Err(e) => {
                        own_dropped += 1;
                        first_reason.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            dropped += own_dropped;
            self.count_drops(&plugin.id, own_dropped);
            let what = first_reason.map_or_else(String::new, |reason| format!("cache entries; first: {reason}"));
            self.note_drops(&plugin.id, "entries", own_dropped, &what);
        }
        (entries, dropped)
    }

    /// The analyzer results `aggregator` is handed: all of them while they fit in a quarter of
    /// its memory cap (the bundled dashboard works in ~3.7 bytes per byte it is handed), else
    /// without the largest until they do, so no number of analyzers can push an aggregator past
    /// its cap. A withheld result counts as that analyzer failing for this
    /// aggregator; the change is logged once.
    fn fit_input(&mut self, aggregator: &LoadedPlugin, outputs: &Arc<Vec<AnalyzerOutput>>) -> Arc<Vec<AnalyzerOutput>> {
        let budget = aggregator.policy.memory_bytes / 4;
        let sizes: Vec<usize> = outputs.iter().map(handed_over_bytes).collect();
        let mut total: usize = sizes.iter().sum();
        if total <= budget {
            return outputs.clone();
        }
        let mut by_size: Vec<usize> = (0..outputs.len()).collect();
        by_size.sort_by_key(|&i| (std::cmp::Reverse(sizes[i]), outputs[i].plugin.clone()));
        let mut withheld = Vec::new();
        for i in by_size {
            if total <= budget {
                break;
            }
            total -= sizes[i];
            withheld.push(i);
        }
        let names: Vec<String> = withheld
            .iter()
            .map(|&i| format!("{} ({} bytes)", outputs[i].plugin, sizes[i]))
            .collect();
        self.note_drops(
            &aggregator.id,
            "input",
            withheld.len(),
            &format!(
                "analyzer results to stay within its input budget of {budget} bytes (a quarter of its memory cap): {}",
                names.join(", ")
            ),
        );
        let kept = outputs
            .iter()
            .enumerate()
            .filter(|(i, _)| !withheld.contains(i))
            .map(|(_, o)| o.clone())
            .collect();
        Arc::new(kept)
    }

    /// Records a call in the status board (which moves the breaker) and the metrics.
    fn record(&mut self, plugin: &LoadedPlugin, outcome: &CallOutcome) {
        self.status.record(&plugin.id, self.cycle, outcome);
        self.telemetry.metrics.call(&plugin.id, plugin.kind.label(), outcome);
    }

    /// Counts a plugin's outputs dropped by the checks.
    fn count_drops(&mut self, plugin: &str, count: usize) {
        self.status.dropped(plugin, count);
        self.telemetry.metrics.dropped(plugin, count);
    }

    /// Logs a plugin's dropped outputs of one `kind` when they start and then at most once a
    /// minute, so a plugin that misbehaves every cycle costs a line a minute, not one a cycle.
    fn note_drops(&mut self, plugin: &str, kind: &str, count: usize, what: &str) {
        if count == 0 {
            return;
        }
        if let Some(due) = self.repeats.admit(&format!("{plugin}: dropped {kind}")) {
            warn!(plugin, cycle = self.cycle, "dropped {count} {what}{due}");
        }
    }

    /// Logs a failed call the first time this version of the plugin fails that way and then at
    /// most once a minute; the status board and the metrics count every one.
    fn note_failure(&mut self, plugin: &LoadedPlugin, role: &str, error: &CallError) {
        let reason = format!("{}@{}: {}", plugin.id, plugin.short_hash(), error.failure.label());
        if let Some(due) = self.repeats.admit(&reason) {
            error!(plugin = %plugin.id, cycle = self.cycle, "{role} failed: {error}{due}");
        }
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
                if self.push_log.due() {
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

/// The cycle's market for each history depth plugins asked for, built once per cycle.
struct MarketsByDepth(BTreeMap<u32, Arc<Market>>);

impl MarketsByDepth {
    fn new(
        snapshot: &Snapshot,
        history: &History,
        cycle: u64,
        source: &str,
        age: Duration,
        registry: &Registry,
    ) -> Self {
        let base = snapshot.to_market(cycle, source, age);
        let depths: std::collections::BTreeSet<u32> =
            registry.plugins().map(|p| p.info.history_depth).chain([0]).collect();
        let markets = depths
            .into_iter()
            .map(|depth| (depth, Arc::new(history.market(&base, depth as usize))))
            .collect();
        Self(markets)
    }

    fn for_plugin(&self, plugin: &LoadedPlugin) -> Arc<Market> {
        self.0[&plugin.info.history_depth].clone()
    }

    /// The market with the deepest history.
    fn deepest(&self) -> Arc<Market> {
        self.0.values().next_back().expect("depth 0 is always built").clone()
    }
}

/// Starts a plugin call at once, bounded by its deadline (`plugin::call_on_pool`); the
/// returned future yields its timed outcome.
fn call_blocking<R: Send + 'static>(
    plugin: Arc<LoadedPlugin>,
    call: impl FnOnce(&LoadedPlugin) -> Result<R, CallError> + Send + 'static,
) -> impl Future<Output = (CallOutcome, Result<R, CallError>)> {
    let started_ms = now_ms();
    let deadline = plugin.policy.call_timeout;
    let caller = plugin.clone();
    let task = call_on_pool(deadline, move || call(&caller));
    async move {
        let (elapsed, result) = task.await;
        let log_dropped = plugin.take_log_dropped();
        let outcome = CallOutcome {
            log_dropped_lines: log_dropped.lines,
            log_dropped_bytes: log_dropped.bytes,
            started_ms,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            error: result.as_ref().err().map(ToString::to_string),
            failure: result.as_ref().err().map(|e| e.failure),
        };
        (outcome, result)
    }
}

/// Awaits calls that are already running, keeping their order.
async fn join_in_order<F: Future>(calls: impl Iterator<Item = F>) -> Vec<F::Output> {
    let calls: Vec<F> = calls.collect();
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        out.push(call.await);
    }
    out
}

/// Tracks a failing source: logs the outage once, crossing the max age once, and the end.
#[derive(Default)]
struct Staleness {
    since: Option<Instant>,
    error: Option<String>,
    past_max_age: bool,
}

impl Staleness {
    fn failed(&mut self, source: &str, error: &anyhow::Error, age: Option<Duration>, max_age: Duration) {
        let reason = format!("{error:#}");
        if self.since.is_none() {
            self.since = Some(Instant::now());
            match age {
                Some(age) => error!(
                    source,
                    "market source {source} failed: {reason}; serving the last good snapshot ({:.1} s old)",
                    age.as_secs_f64()
                ),
                None => error!(
                    source,
                    "market source {source} failed: {reason}; no snapshot to serve yet"
                ),
            }
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

    fn recovered(&mut self, source: &str) {
        if let Some(since) = self.since.take() {
            info!(
                source,
                "market source {source} recovered after {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
        self.error = None;
        self.past_max_age = false;
    }

    fn error(&self) -> Option<String> {
        self.error.clone()
    }
}

/// Keeps repetitive cycle logs to one line a period, and notes when failures start and end.
struct LogGate {
    period: Duration,
    last_success_log: Option<Instant>,
    last_failure_log: Option<Instant>,
    failing: bool,
}

impl LogGate {
    fn new(period: Duration) -> Self {
        Self {
            period,
            last_success_log: None,
            last_failure_log: None,
            failing: false,
        }
    }

    /// True when a success line is due (the first, then once a period).
    fn due(&mut self) -> bool {
        Self::take(&mut self.last_success_log, self.period)
    }

    /// Marks success; true if this ends a run of failures.
    fn recovered(&mut self) -> bool {
        let was = self.failing;
        self.failing = false;
        self.last_failure_log = None;
        was
    }

    /// Marks failure; true when a failure line is due (the first of a run, then once a period).
    fn failing(&mut self) -> bool {
        self.failing = true;
        Self::take(&mut self.last_failure_log, self.period)
    }

    fn take(last: &mut Option<Instant>, period: Duration) -> bool {
        let due = last.is_none_or(|t| t.elapsed() >= period);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}
