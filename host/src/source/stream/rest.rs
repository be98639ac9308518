//! The REST tickers of a streamed exchange: the first snapshot, asked on the cycle; later ones
//! off it, when a symbol waits for a resync or a reconciliation is due, never closer together
//! than [`MIN_SPACING`] (well within either exchange's weight for an all-symbols request). An
//! answer is handed on only once the streams have had time to deliver everything sent before
//! it ([`Rest::settled`]), so it is compared with what the streams said by then.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::sync::oneshot;
use tracing::warn;

use super::super::body;
use super::super::dialect::Dialect;
use crate::shared::clock::now_ms;
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::Ticker;

/// The least time between two REST ticker requests: Binance weighs an all-symbols request 80
/// of its 6,000 a minute, so this spends at most 960, beside the klines' half.
pub(super) const MIN_SPACING: Duration = Duration::from_secs(5);

/// How long after its arrival an answer waits for the streams to deliver what was sent before
/// it, beyond one push interval.
const SETTLE: Duration = Duration::from_millis(500);

/// One REST answer.
pub(super) struct Answer {
    /// Its tickers.
    pub tickers: Vec<Ticker>,
    /// The exchange's time of the answer (its clock), else ours when it gives none.
    pub as_of_ms: i64,
    /// When it was asked for.
    pub asked: Instant,
    /// When it came.
    answered: Instant,
}

/// The REST tickers and when they are next due.
pub(super) struct Rest {
    /// How its answers read.
    dialect: Arc<dyn Dialect>,
    /// The client, with the poll timeout.
    client: reqwest::Client,
    /// The tickers endpoint.
    url: String,
    /// How often the streams are reconciled with an answer.
    reconcile_every: Duration,
    /// The request in flight.
    in_flight: Option<oneshot::Receiver<Result<Answer>>>,
    /// An answer waiting to settle.
    ready: Option<Answer>,
    /// When the last request started, and when the last answer came.
    last_asked: Option<Instant>,
    last_answer: Option<Instant>,
    /// When the last reconciliation was asked for.
    last_reconcile: Instant,
    /// One failure line per reason a minute.
    log: LogThrottle,
}

impl Rest {
    /// The REST tickers of `dialect` at `url`, through `client`, reconciled every
    /// `reconcile_every`.
    pub(super) fn new(
        dialect: Arc<dyn Dialect>,
        client: reqwest::Client,
        url: String,
        reconcile_every: Duration,
    ) -> Self {
        Self {
            dialect,
            client,
            url,
            reconcile_every,
            in_flight: None,
            ready: None,
            last_asked: None,
            last_answer: None,
            last_reconcile: Instant::now(),
            log: LogThrottle::per_minute(),
        }
    }

    /// Whether no answer has come yet.
    pub(super) fn never_answered(&self) -> bool {
        self.last_answer.is_none()
    }

    /// Whether an answer came within `within`.
    pub(super) fn answered_within(&self, within: Duration) -> bool {
        self.last_answer.is_some_and(|at| at.elapsed() <= within)
    }

    /// Asks now and waits for the answer.
    pub(super) async fn fetch_now(&mut self) -> Result<Answer> {
        self.last_asked = Some(Instant::now());
        let answer = fetch(self.dialect.clone(), self.client.clone(), self.url.clone()).await?;
        self.last_answer = Some(answer.answered);
        Ok(answer)
    }

    /// Starts a request off the cycle if one is due: `resync` asks for one (at most every
    /// [`MIN_SPACING`]), and a reconciliation is due every `reconcile_every`.
    pub(super) fn start_if_due(&mut self, resync: bool) {
        if self.in_flight.is_some() || self.ready.is_some() {
            return;
        }
        let spaced = self.last_asked.is_none_or(|at| at.elapsed() >= MIN_SPACING);
        let reconcile = self.last_reconcile.elapsed() >= self.reconcile_every;
        if !spaced || !(resync || reconcile) {
            return;
        }
        if reconcile {
            self.last_reconcile = Instant::now();
        }
        self.last_asked = Some(Instant::now());
        let (send, receive) = oneshot::channel();
        let (dialect, client, url) = (self.dialect.clone(), self.client.clone(), self.url.clone());
        tokio::spawn(async move {
            let _ = send.send(fetch(dialect, client, url).await);
        });
        self.in_flight = Some(receive);
    }

    /// The answer that came, once the streams have had `push_interval` and a margin to deliver
    /// what was sent before it; a failed request is logged (once a minute per reason).
    pub(super) fn settled(&mut self, push_interval: Duration) -> Option<Answer> {
        if let Some(receiving) = &mut self.in_flight {
            match receiving.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => self.in_flight = None,
                Ok(result) => {
                    self.in_flight = None;
                    match result {
                        Ok(answer) => {
                            self.last_answer = Some(answer.answered);
                            self.ready = Some(answer);
                        }
                        Err(e) => {
                            if let Some(due) = self.log.admit("rest") {
                                warn!("cannot fetch the tickers to resync the streams: {e:#}{due}");
                            }
                        }
                    }
                }
            }
        }
        let settled = self
            .ready
            .as_ref()
            .is_some_and(|a| a.answered.elapsed() >= push_interval + SETTLE);
        if settled {
            self.ready.take()
        } else {
            None
        }
    }
}

/// Asks `url` for the tickers.
async fn fetch(dialect: Arc<dyn Dialect>, client: reqwest::Client, url: String) -> Result<Answer> {
    let asked = Instant::now();
    let (status, body) = body::read(&client, &url, body::MAX_TICKERS_BYTES).await?;
    body::successful(&url, status, &body)?;
    let answer = dialect
        .parse_tickers(&body)
        .with_context(|| format!("GET {url}: unexpected body"))?;
    if answer.tickers.is_empty() {
        bail!("GET {url}: the exchange returned no tickers");
    }
    Ok(Answer {
        tickers: answer.tickers,
        as_of_ms: answer.as_of_ms.unwrap_or_else(now_ms),
        asked,
        answered: Instant::now(),
    })
}
