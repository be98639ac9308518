//! An exchange streamed: tickers and candles pushed over WebSocket (`connection.rs`, each
//! dialect's [`Wire`] in its exchange's file), with REST for the rest — the first snapshot, a
//! resync after any gap, a reconciliation at a set period that finds what a lost message left
//! wrong, the listings, and the candle backfill (`backfill.rs`, as when polling). The book
//! (`book.rs`) keeps each symbol's fields and continuity; each cycle reads it.
//!
//! Layout: `wire.rs` (what a dialect says), `book.rs` (what is known), `connection.rs` (one
//! connection), `placement.rs` (which connection holds which topic), `gate.rs` (how fast
//! connections open), `rest.rs` (the REST answers and when one is due), this file (the source).

mod book;
mod connection;
mod gate;
mod placement;
mod rest;
pub(super) mod wire;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use async_trait::async_trait;
use tracing::warn;

use self::book::Book;
use self::connection::{Command, Connection, Shared, Topic};
use self::gate::ConnectGate;
use self::placement::Placement;
use self::rest::Rest;
use self::wire::Wire;
use super::backfill::Backfill;
use super::dialect::Dialect;
use super::{MarketSource, Opened};
use crate::config::Config;
use crate::shared::candle::{CandleDemand, CandleFetches, CandleRows};
use crate::shared::log_throttle::LogThrottle;
use crate::shared::market::{Snapshot, Ticker};
use crate::shared::stream_health::{GapReason, StreamHealth, SymbolContinuity};
use crate::shared::timeframe::TIMEFRAMES;

/// How long before the exchange's maximum connection age a connection is replaced.
const ROTATION_MARGIN: Duration = Duration::from_secs(600);

/// The most symbols streamed: the largest real listing is some 3,500 (Binance spot, every
/// quote); a REST answer listing more streams those of the largest turnover.
const MAX_STREAMED_SYMBOLS: usize = 25_000;

/// How long after a candle closes the backfill waits for a stream to deliver it closed before
/// fetching it: Bybit pushes a candle every 1-60 s, Binance every 2 s.
const KLINE_GRACE: Duration = Duration::from_secs(10);

/// A streaming source of the exchange whose REST answers `dialect` reads and whose messages
/// `wire` reads, at `market.exchange_ws_url` (its public streams by default); its klines are
/// backfilled by `backfill`, and its REST tickers asked of `tickers` (a client and a URL).
pub(in crate::source) fn open(
    config: &Config,
    dialect: Arc<dyn Dialect>,
    wire: Arc<dyn Wire>,
    backfill: Backfill,
    tickers: (reqwest::Client, String),
) -> Result<Opened> {
    let market = &config.market;
    if market.exchange_url.is_some() && market.exchange_ws_url.is_none() {
        bail!(
            "market.exchange_url is set but market.exchange_ws_url is not: name the streams' endpoint too \
             (--exchange-ws-url), or poll REST alone with market.stream = false (--stream false)"
        );
    }
    let base = market
        .exchange_ws_url
        .as_deref()
        .unwrap_or(wire.default_ws_url())
        .trim_end_matches('/');
    let url = format!("{base}{}", wire.ws_path());
    let name = dialect.name();
    let (client, tickers_url) = tickers;
    let rest = Rest::new(
        dialect,
        client,
        tickers_url,
        Duration::from_secs(market.reconcile_every.0),
    );
    let book = Arc::new(Mutex::new(Book::default()));
    let shared = Shared {
        url,
        wire: wire.clone(),
        book: book.clone(),
        gate: Arc::new(ConnectGate::new(wire.limits().connections_per_5_minutes)),
        rotate_after: market
            .stream_rotate_after
            .map(|age| Duration::from_secs(age.0))
            .or_else(|| {
                wire.limits()
                    .max_connection_age
                    .map(|age| age.saturating_sub(ROTATION_MARGIN))
            }),
        source: name,
    };
    Ok(Opened {
        market: Box::new(StreamSource {
            wire,
            rest,
            book,
            shared,
            connections: Vec::new(),
            placement: Placement::default(),
            backfill: backfill.streamed(KLINE_GRACE),
            klines: BTreeMap::new(),
            quote: market.quote.clone(),
            include: market.include.clone(),
            exclude: market.exclude.clone(),
            max_age: Duration::from_secs(market.max_age.0),
            messages: (0, Instant::now()),
            health: StreamHealth::default(),
            log: LogThrottle::per_minute(),
            topics_changed: false,
        }),
        name,
    })
}

/// A streamed exchange.
struct StreamSource {
    /// How its messages read, and its topics' names.
    wire: Arc<dyn Wire>,
    /// The REST tickers: the first snapshot, resyncs, reconciliations and listings.
    rest: Rest,
    /// What is known of each symbol.
    book: Arc<Mutex<Book>>,
    /// What every connection shares.
    shared: Shared,
    /// The connection tasks, by index.
    connections: Vec<Connection>,
    /// Which connection holds each topic.
    placement: Placement,
    /// Candles fetched by REST: backfills, and what a stream missed.
    backfill: Backfill,
    /// The kline topics wanted, by name: the analysed symbols' wanted time frames.
    klines: BTreeMap<String, Topic>,
    /// Only symbols with this quote suffix are streamed (`market.quote`).
    quote: String,
    /// If not empty, only these (`market.include`).
    include: Vec<String>,
    /// Never these (`market.exclude`).
    exclude: Vec<String>,
    /// Data older than this is left out of the snapshot.
    max_age: Duration,
    /// Messages read by the last snapshot, and when it was taken: the message rate.
    messages: (u64, Instant),
    /// The state at the last snapshot.
    health: StreamHealth,
    /// Lines that could repeat every answer, throttled.
    log: LogThrottle,
    /// Whether the symbols listed or the klines wanted changed since topics were last placed.
    topics_changed: bool,
}

#[async_trait]
impl MarketSource for StreamSource {
    async fn snapshot(&mut self, now_ms: i64) -> Result<Option<Snapshot>> {
        if self.rest.never_answered() {
            // The first snapshot is a poll: the symbols to subscribe, and data until they stream.
            let answer = self.rest.fetch_now().await?;
            self.list(&answer.tickers, answer.as_of_ms);
        }
        if let Some(answer) = self.rest.settled(self.wire.limits().push_interval) {
            self.list(&answer.tickers, answer.as_of_ms);
            self.book
                .lock()
                .expect("no panic holds it")
                .reconcile(&answer.tickers, answer.as_of_ms, answer.asked);
        }
        let resync = self.book.lock().expect("no panic holds it").resync_wanted();
        self.rest.start_if_due(resync);
        self.subscribe();
        let candles = self.candles(now_ms);
        let (tickers, symbols) = self.book.lock().expect("no panic holds it").read(now_ms, self.max_age);
        self.health = self.health(symbols);
        if self.health.connections == 0 && !self.rest.answered_within(Duration::from_secs(5)) {
            bail!("no stream connection is open, and the last REST answer is older than 5 s");
        }
        if tickers.is_empty() {
            bail!("the streams hold no symbol with data younger than max_age");
        }
        Ok(Some(Snapshot {
            timestamp_ms: now_ms,
            tickers,
            candles,
        }))
    }

    fn want_candles(&mut self, demand: CandleDemand, symbols: &[Ticker]) {
        self.backfill.want(demand, symbols);
        let klines: BTreeMap<String, Topic> = symbols
            .iter()
            .flat_map(|t| demand.wanted().map(move |(timeframe, _)| (t, timeframe)))
            .map(|(t, timeframe)| {
                let topic = Topic {
                    name: self.wire.kline_topic(&t.symbol, timeframe),
                    symbol: t.symbol.clone(),
                    ticker: false,
                };
                (topic.name.clone(), topic)
            })
            .collect();
        if klines != self.klines {
            self.klines = klines;
            self.topics_changed = true;
        }
    }

    fn candle_fetches(&self) -> Option<CandleFetches> {
        Some(self.backfill.fetches())
    }

    fn stream_health(&self) -> Option<StreamHealth> {
        Some(self.health.clone())
    }
}

impl StreamSource {
    /// Lists the symbols of a REST answer the selection can pick (a symbol of another quote,
    /// or excluded, is never streamed), and forgets those it no longer lists.
    fn list(&mut self, tickers: &[Ticker], as_of_ms: i64) {
        let mut book = self.book.lock().expect("no panic holds it");
        let mut listed: Vec<&Ticker> = tickers.iter().filter(|t| self.streamed(&t.symbol)).collect();
        if listed.len() > MAX_STREAMED_SYMBOLS {
            listed.sort_by(|a, b| b.turnover_24h.total_cmp(&a.turnover_24h));
            listed.truncate(MAX_STREAMED_SYMBOLS);
            if let Some(due) = self.log.admit("too many symbols") {
                warn!(
                    "the exchange lists {} symbols the selection could pick; streaming the {MAX_STREAMED_SYMBOLS} of the largest turnover{due}",
                    tickers.len()
                );
            }
        }
        let names: HashSet<&str> = listed.iter().map(|t| t.symbol.as_str()).collect();
        let delisted: Vec<String> = book
            .symbols()
            .filter(|s| !names.contains(s))
            .map(str::to_string)
            .collect();
        self.topics_changed |= !delisted.is_empty();
        for symbol in delisted {
            book.delist(&symbol);
        }
        for ticker in listed {
            self.topics_changed |= book.list(ticker, as_of_ms);
        }
    }

    /// Whether `symbol` is one the selection could pick.
    fn streamed(&self, symbol: &str) -> bool {
        symbol.ends_with(self.quote.as_str())
            && (self.include.is_empty() || self.include.iter().any(|s| s == symbol))
            && !self.exclude.iter().any(|s| s == symbol)
    }

    /// Subscribes the tickers of the listed symbols and the wanted klines, and unsubscribes
    /// what is no longer wanted, spreading topics over connections within the exchange's limit.
    fn subscribe(&mut self) {
        if !std::mem::take(&mut self.topics_changed) {
            return;
        }
        let mut wanted = self.klines.clone();
        {
            let book = self.book.lock().expect("no panic holds it");
            for symbol in book.symbols() {
                let topic = Topic {
                    name: self.wire.ticker_topic(symbol),
                    symbol: symbol.to_string(),
                    ticker: true,
                };
                wanted.insert(topic.name.clone(), topic);
            }
        }
        let changes = self.placement.want(&wanted, self.wire.limits().topics_per_connection);
        {
            let mut book = self.book.lock().expect("no panic holds it");
            for (connection, topics) in &changes.subscribe {
                for topic in topics.iter().filter(|t| t.ticker) {
                    book.place(&topic.symbol, *connection);
                }
            }
        }
        while self.connections.len() < self.placement.connections() {
            let index = self.connections.len();
            self.connections.push(connection::spawn(index, self.shared.clone()));
        }
        for (connection, topics) in changes.unsubscribe {
            self.connections[connection].send(Command::Unsubscribe(topics));
        }
        for (connection, topics) in changes.subscribe {
            self.connections[connection].send(Command::Subscribe(topics));
        }
    }

    /// The candles for the next snapshot: those the streams delivered (closed ones, and the
    /// newest forming one of each series) and those the backfill fetched.
    fn candles(&mut self, now_ms: i64) -> Vec<CandleRows> {
        let streamed = self.book.lock().expect("no panic holds it").take_candles();
        let mut missed = 0;
        let mut rows: Vec<CandleRows> = streamed
            .into_iter()
            .map(|((symbol, k), series)| {
                let timeframe = TIMEFRAMES[k];
                for closed in &series.closed {
                    missed += u64::from(!self.backfill.received(&symbol, timeframe, closed.start_ms));
                }
                let mut candles = series.closed;
                candles.extend(series.forming);
                CandleRows {
                    symbol,
                    timeframe,
                    candles,
                }
            })
            .collect();
        if missed > 0 {
            let mut book = self.book.lock().expect("no panic holds it");
            *book.counts.gaps.entry(GapReason::MissedCandle).or_default() += missed;
        }
        rows.extend(self.backfill.collect(now_ms));
        rows
    }

    /// The streams' state now, with `symbols`' continuity.
    fn health(&mut self, symbols: Vec<SymbolContinuity>) -> StreamHealth {
        let mut book = self.book.lock().expect("no panic holds it");
        let (connections, symbols_live, symbols_in_gap) = book.tally();
        let (before, at) = self.messages;
        let seconds = at.elapsed().as_secs_f64();
        let messages_per_second = if seconds > 0.0 {
            (book.counts.messages - before) as f64 / seconds
        } else {
            0.0
        };
        self.messages = (book.counts.messages, Instant::now());
        StreamHealth {
            connections,
            symbols_live,
            symbols_in_gap,
            messages_per_second,
            lag_ms: std::mem::take(&mut book.lag_ms),
            counts: book.counts.clone(),
            symbols: Arc::new(symbols),
        }
    }
}
