//! Candles fetched from an exchange off the cycle: a backfill as deep as the plugins want for
//! each symbol the cycle analyses (on start, on entering the top N, when a plugin wants more),
//! and a fetch again of each candle once it has closed, so closed candles are the exchange's.
//!
//! Requests go through one queue at a configured pace (requests per second, under the
//! exchange's published limits) with a bounded number in flight; a failed request is retried
//! with a doubling backoff, and given up after [`MAX_ATTEMPTS`] (the symbol is planned again at
//! the next cycle). What arrives is handed to the next snapshot; a cycle never waits for it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};
use tokio::sync::Semaphore;
use tracing::warn;

use futures_util::future::BoxFuture;

use super::dialect::MAX_LIMIT;
use crate::shared::candle::{Candle, CandleDemand, CandleFetches, CandleRows};
use crate::shared::contract::Timeframe;
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::Ticker;
use crate::shared::timeframe::{self, TIMEFRAMES};

/// Attempts of one request before it is given up.
const MAX_ATTEMPTS: u32 = 6;
/// Wait before the first retry; it doubles with each attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// How fast candles may be fetched.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Requests started per second, at most.
    pub per_second: u32,
    /// Requests in flight, at most.
    pub in_flight: usize,
}

/// One request: `limit` candles of one symbol and time frame, newest included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Job {
    symbol: String,
    /// Index in [`TIMEFRAMES`].
    timeframe: usize,
    limit: u32,
}

/// What became of a request.
enum Fetched {
    /// The candles it returned, oldest first.
    Candles(Job, Vec<Candle>),
    /// Every attempt failed.
    GaveUp(Job),
}

/// What has been fetched for one symbol and time frame.
#[derive(Debug, Default, Clone, Copy)]
struct Track {
    /// Closed candles fetched, at most; a demand deeper than this is backfilled.
    depth: u32,
    /// Start of the newest candle fetched; once a later candle forms, this one is fetched
    /// again, closed.
    newest_start: i64,
    /// A request is queued or in flight.
    pending: bool,
}

/// One request as the queue runs it: `limit` candles of a symbol and time frame, newest
/// included, oldest first. The queue knows nothing of who answers it.
pub(super) type Fetch = Arc<dyn Fn(String, Timeframe, u32) -> BoxFuture<'static, Result<Vec<Candle>>> + Send + Sync>;

/// What the worker shares with the source.
struct QueueState {
    /// Runs one request.
    fetch: Fetch,
    /// Fetches finished since the source last looked.
    done: Mutex<Vec<Fetched>>,
    /// Counters for `/metrics`.
    requests: AtomicU64,
    failures: AtomicU64,
    /// One failure line per reason a minute.
    log: Mutex<LogThrottle>,
}

/// Plans the kline requests of one exchange source and runs them in the background.
pub(super) struct Backfill {
    shared: Arc<QueueState>,
    pace: Pace,
    /// What the plugins want, and of which symbols.
    demand: CandleDemand,
    symbols: Vec<String>,
    /// Per symbol and time frame, what has been fetched.
    tracks: HashMap<(String, usize), Track>,
    /// The queue of the worker, once it runs.
    queue: Option<UnboundedSender<(Job, u32)>>,
    /// How long after a candle closes its fetch waits for a stream to deliver it closed (0
    /// when nothing streams).
    grace_ms: i64,
}

impl Backfill {
    /// A backfill whose requests `fetch` runs, at `pace`.
    pub(super) fn new(fetch: Fetch, pace: Pace) -> Self {
        Self {
            shared: Arc::new(QueueState {
                fetch,
                done: Mutex::new(Vec::new()),
                requests: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                log: Mutex::new(LogThrottle::per_minute()),
            }),
            pace,
            demand: CandleDemand::default(),
            symbols: Vec::new(),
            tracks: HashMap::new(),
            queue: None,
            grace_ms: 0,
        }
    }

    /// Waits `grace` after each close for a stream to deliver the closed candle
    /// ([`received`](Self::received)) before fetching it.
    pub(super) fn streamed(mut self, grace: Duration) -> Self {
        self.grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Takes in that a stream delivered `symbol`'s candle of `timeframe` starting at `start_ms`
    /// closed: when every candle before it was held, it needs no fetch. False when candles
    /// between the newest held and it were missed (they are fetched at the next plan, or by
    /// the request in flight).
    pub(super) fn received(&mut self, symbol: &str, timeframe: Timeframe, start_ms: i64) -> bool {
        let k = timeframe::index(timeframe);
        let Some(track) = self.tracks.get_mut(&(symbol.to_string(), k)) else {
            return true;
        };
        let length = timeframe::length_ms(timeframe);
        if start_ms.rem_euclid(length) != 0 {
            // Not a candle of this time frame: the store refuses it.
            return true;
        }
        if start_ms > track.newest_start {
            return track.pending;
        }
        if let Some(next) = start_ms.checked_add(length) {
            track.newest_start = track.newest_start.max(next);
        }
        true
    }

    /// Sets what the plugins want, and the symbols the last cycle analysed.
    pub(super) fn want(&mut self, demand: CandleDemand, symbols: &[Ticker]) {
        self.demand = demand;
        self.symbols = symbols.iter().map(|t| t.symbol.clone()).collect();
    }

    /// Requests and retries so far.
    pub(super) fn fetches(&self) -> CandleFetches {
        CandleFetches {
            requests: self.shared.requests.load(Ordering::Relaxed),
            failures: self.shared.failures.load(Ordering::Relaxed),
        }
    }

    /// Hands over the candles fetched since the last call and queues the requests now due.
    pub(super) fn collect(&mut self, now_ms: i64) -> Vec<CandleRows> {
        let rows = self.take_finished(now_ms);
        for job in self.plan(now_ms) {
            self.send(job, 1);
        }
        rows
    }

    /// The candles of the requests finished since the last call, their tracks brought up to
    /// date: a request that was given up leaves its track as it was, to be planned again.
    fn take_finished(&mut self, now_ms: i64) -> Vec<CandleRows> {
        let finished = std::mem::take(&mut *self.shared.done.lock().expect("no panic holds it"));
        let mut rows = Vec::new();
        for fetched in finished {
            let (job, candles) = match fetched {
                Fetched::Candles(job, candles) => (job, candles),
                Fetched::GaveUp(job) => {
                    if let Some(track) = self.tracks.get_mut(&(job.symbol, job.timeframe)) {
                        track.pending = false;
                    }
                    continue;
                }
            };
            let forming = timeframe::candle_start(TIMEFRAMES[job.timeframe], now_ms);
            let track = self.tracks.entry((job.symbol.clone(), job.timeframe)).or_default();
            track.pending = false;
            track.depth = track.depth.max(job.limit.saturating_sub(1));
            // An answer covers what was asked up to now, even one without rows (a symbol the
            // exchange has no candles of): the next request is due once a later candle starts.
            // A start in the future is the exchange's error, not a reason to wait for it.
            let newest = candles.iter().map(|c| c.start_ms).filter(|&s| s <= forming).max();
            track.newest_start = track.newest_start.max(newest.unwrap_or(forming));
            if !candles.is_empty() {
                rows.push(CandleRows {
                    symbol: job.symbol,
                    timeframe: TIMEFRAMES[job.timeframe],
                    candles,
                });
            }
        }
        rows
    }

    /// The requests due at `now_ms`: a backfill where less was fetched than the plugins want
    /// now, and, where the newest candle fetched has closed since, every candle from it on (so
    /// a refetch that came late, or an outage of the ticker poll, leaves no candle unfetched).
    /// Tracks of symbols no longer analysed, or of time frames no longer wanted, are forgotten.
    fn plan(&mut self, now_ms: i64) -> Vec<Job> {
        let analysed: HashSet<&str> = self.symbols.iter().map(String::as_str).collect();
        let demand = self.demand;
        self.tracks
            .retain(|(symbol, k), track| track.pending || (analysed.contains(symbol.as_str()) && demand.0[*k] > 0));
        let mut jobs = Vec::new();
        for symbol in &self.symbols {
            for (timeframe, depth) in self.demand.wanted() {
                let k = timeframe::index(timeframe);
                let track = self.tracks.entry((symbol.clone(), k)).or_default();
                if track.pending {
                    continue;
                }
                // A lower demand lowers what counts as fetched, so raising it again backfills.
                let depth = depth.min(MAX_LIMIT - 1);
                track.depth = track.depth.min(depth);
                let forming = timeframe::candle_start(timeframe, now_ms);
                let missed = (forming - track.newest_start) / timeframe::length_ms(timeframe);
                let limit = if track.depth < depth || missed > i64::from(depth) {
                    depth + 1
                } else if missed > 0 && now_ms - forming >= self.grace_ms {
                    u32::try_from(missed + 1).unwrap_or(MAX_LIMIT).min(MAX_LIMIT)
                } else {
                    continue;
                };
                track.pending = true;
                jobs.push(Job {
                    symbol: symbol.clone(),
                    timeframe: k,
                    limit,
                });
            }
        }
        jobs
    }

    /// Queues `job`, starting the worker on first use.
    fn send(&mut self, job: Job, attempt: u32) {
        let queue = self.queue.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(rx, tx.downgrade(), self.shared.clone(), self.pace));
            tx
        });
        let _ = queue.send((job, attempt));
    }
}

/// Runs queued requests at `pace` until the source is dropped.
async fn work(
    mut queue: UnboundedReceiver<(Job, u32)>,
    retries: WeakUnboundedSender<(Job, u32)>,
    shared: Arc<QueueState>,
    pace: Pace,
) {
    let in_flight = Arc::new(Semaphore::new(pace.in_flight.max(1)));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(pace.per_second.max(1))));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while let Some((job, attempt)) = queue.recv().await {
        // A slot first, then the tick: two requests never leave closer together than the pace,
        // however long the slot took.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        ticks.tick().await;
        let (shared, retries) = (shared.clone(), retries.clone());
        tokio::spawn(async move {
            shared.requests.fetch_add(1, Ordering::Relaxed);
            let result = (shared.fetch)(job.symbol.clone(), TIMEFRAMES[job.timeframe], job.limit).await;
            drop(permit);
            match result {
                Ok(candles) => shared
                    .done
                    .lock()
                    .expect("no panic holds it")
                    .push(Fetched::Candles(job, candles)),
                Err(e) => {
                    shared.failures.fetch_add(1, Ordering::Relaxed);
                    let reason = format!("{e:#}");
                    let line = shared.log.lock().expect("no panic holds it").admit(&kind_of(&reason));
                    if let Some(due) = line {
                        warn!(attempt, "cannot fetch candles: {reason}{due}");
                    }
                    if attempt >= MAX_ATTEMPTS {
                        shared
                            .done
                            .lock()
                            .expect("no panic holds it")
                            .push(Fetched::GaveUp(job));
                        return;
                    }
                    tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
                    if let Some(queue) = retries.upgrade() {
                        let _ = queue.send((job, attempt + 1));
                    }
                }
            }
        });
    }
}

/// What a failure's log line is throttled by: its reason without the symbol's URL.
fn kind_of(reason: &str) -> String {
    reason
        .split_once(": ")
        .map_or(reason, |(_, rest)| rest)
        .chars()
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests;
