//! What a streaming source knows of each symbol: its ticker's fields as the streams and the REST
//! answers left them, when each field was last set, and its continuity (gap-free since when,
//! else in a gap). Connections write into it as messages arrive; the source reads it once a
//! cycle. Every rule of `docs/sources.md`'s "Continuity" is here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::wire::{TickerFields, FIELDS};
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;
use crate::shared::stream_health::{GapReason, StreamCounts, SymbolContinuity};
use crate::shared::timeframe;

/// One symbol as the streams and REST answers left it.
#[derive(Debug, Clone)]
struct Entry {
    /// Price, 24 h change, volume, turnover, high and low, in [`FIELDS`]' order.
    fields: [f64; FIELDS],
    /// When each field was last set, by the exchange's clock: a REST answer older than a field
    /// cannot say it is wrong.
    field_ms: [i64; FIELDS],
    /// When the newest data of it was sent, by the exchange's clock.
    data_ms: i64,
    /// The connection its ticker topic is on, once placed.
    connection: Option<usize>,
    /// When that connection acknowledged its ticker topic; `None` until it has, and again once
    /// the connection is lost.
    subscribed: Option<Instant>,
    /// Whether that connection has sent it whole since it was subscribed: a delta before it is
    /// a gap.
    whole_seen: bool,
    /// Since when (exchange ms) its data is gap-free; `None` while it is in a gap.
    gap_free_since_ms: Option<i64>,
}

/// A connection as the book sees it.
#[derive(Debug, Clone, Copy, Default)]
struct Connection {
    /// Open, and answering.
    live: bool,
    /// The newest send time it delivered (exchange ms): a symbol current on it is as fresh.
    newest_ms: i64,
}

/// What the streams delivered of one series since the last snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct StreamedSeries {
    /// Candles the exchange closed, in the order they came.
    pub closed: Vec<Candle>,
    /// The newest forming candle, if one came after the last closed one.
    pub forming: Option<Candle>,
}

/// A closed or forming candle a stream delivered.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StreamedCandle {
    /// The symbol.
    pub symbol: String,
    /// Its time frame.
    pub timeframe: Timeframe,
    /// The candle.
    pub candle: Candle,
    /// Whether the exchange closed it.
    pub closed: bool,
}

/// Every subscribed symbol, the candles streamed since the last snapshot, and the counts.
#[derive(Debug, Default)]
pub(super) struct Book {
    /// By symbol.
    symbols: HashMap<String, Entry>,
    /// By connection index.
    connections: Vec<Connection>,
    /// Candles streamed since the source last took them, by symbol and time frame (its index
    /// in `TIMEFRAMES`).
    candles: HashMap<(String, usize), StreamedSeries>,
    /// Totals for `/metrics` and `pulse:status`.
    pub(super) counts: StreamCounts,
    /// The longest send-to-read time of the messages since the last snapshot, in ms.
    pub(super) lag_ms: i64,
}

/// The most closed candles of one series kept between two snapshots: one closes per time frame
/// (a minute at least), so past this a stream is sending what no exchange sends.
const MAX_CLOSED_PER_SERIES: usize = 16;

impl Book {
    /// Adds `ticker`, listed by a REST answer as of `as_of_ms` (or as of the row's own time),
    /// in a gap until its stream is subscribed and a later answer resyncs it; an already known
    /// symbol is left as it is. Whether it was new.
    pub(super) fn list(&mut self, ticker: &Ticker, as_of_ms: i64) -> bool {
        if self.symbols.contains_key(&ticker.symbol) {
            return false;
        }
        let as_of_ms = ticker.data_ms.unwrap_or(as_of_ms);
        self.symbols.insert(
            ticker.symbol.clone(),
            Entry {
                fields: values(ticker),
                field_ms: [as_of_ms; FIELDS],
                data_ms: as_of_ms,
                connection: None,
                subscribed: None,
                whole_seen: false,
                gap_free_since_ms: None,
            },
        );
        true
    }

    /// Forgets a symbol the exchange no longer lists.
    pub(super) fn delist(&mut self, symbol: &str) {
        self.symbols.remove(symbol);
    }

    /// The symbols it holds.
    pub(super) fn symbols(&self) -> impl Iterator<Item = &str> {
        self.symbols.keys().map(String::as_str)
    }

    /// Connection `index`, known from now on.
    fn connection(&mut self, index: usize) -> &mut Connection {
        if self.connections.len() <= index {
            self.connections.resize(index + 1, Connection::default());
        }
        &mut self.connections[index]
    }

    /// Places `symbol`'s ticker topic on `connection`.
    pub(super) fn place(&mut self, symbol: &str, connection: usize) {
        self.connection(connection);
        if let Some(entry) = self.symbols.get_mut(symbol) {
            if entry.connection != Some(connection) {
                if entry.connection.is_some() {
                    gap(entry, &mut self.counts, GapReason::Disconnect);
                }
                entry.connection = Some(connection);
                entry.subscribed = None;
                entry.whole_seen = false;
            }
        }
    }

    /// `connection` is open and answering again.
    pub(super) fn connected(&mut self, connection: usize) {
        self.connection(connection).live = true;
    }

    /// `symbols`' tickers were acknowledged on `connection` at `at`; a symbol already
    /// subscribed there keeps its first acknowledgement (a successor's subscribes it again).
    pub(super) fn subscribed(&mut self, connection: usize, symbols: &[String], at: Instant) {
        for symbol in symbols {
            if let Some(entry) = self.symbols.get_mut(symbol) {
                if entry.connection == Some(connection) && entry.subscribed.is_none() {
                    entry.subscribed = Some(at);
                }
            }
        }
    }

    /// `connection` closed or went silent: every symbol on it is in a gap, for `reason`.
    pub(super) fn lost(&mut self, connection: usize, reason: GapReason) {
        *self.connection(connection) = Connection::default();
        let counts = &mut self.counts;
        for entry in self.symbols.values_mut().filter(|e| e.connection == Some(connection)) {
            entry.subscribed = None;
            entry.whole_seen = false;
            gap(entry, counts, reason);
        }
    }

    /// Takes in a ticker message from `connection`.
    pub(super) fn ticker(&mut self, connection: usize, symbol: &str, whole: bool, fields: &TickerFields, sent_ms: i64) {
        self.newest(connection, sent_ms);
        let Some(entry) = self.symbols.get_mut(symbol) else {
            *self.counts.rejected.entry("symbol not subscribed").or_default() += 1;
            return;
        };
        if entry.connection != Some(connection) {
            // The other connection of a rotation, or one being replaced: the same data, and
            // continuity is the placed connection's.
            return;
        }
        // A change before the whole ticker comes while the symbol is in a gap (it is after every
        // subscription), which only a REST answer ends.
        entry.whole_seen |= whole;
        for (k, value) in fields.0.iter().enumerate() {
            if let Some(value) = value {
                entry.fields[k] = *value;
                entry.field_ms[k] = entry.field_ms[k].max(sent_ms);
            }
        }
        entry.data_ms = entry.data_ms.max(sent_ms);
    }

    /// Takes in a candle a stream delivered.
    pub(super) fn candle(&mut self, connection: usize, candle: StreamedCandle, sent_ms: i64) {
        self.newest(connection, sent_ms);
        if !self.symbols.contains_key(&candle.symbol) {
            *self.counts.rejected.entry("symbol not subscribed").or_default() += 1;
            return;
        }
        let key = (candle.symbol, timeframe::index(candle.timeframe));
        let series = self.candles.entry(key).or_default();
        let (start, candle, closed) = (candle.candle.start_ms, candle.candle, candle.closed);
        if closed {
            if series.closed.len() >= MAX_CLOSED_PER_SERIES {
                *self.counts.rejected.entry("too many closed candles").or_default() += 1;
                return;
            }
            series.closed.push(candle);
            series.forming = series.forming.filter(|f| f.start_ms > start);
        } else if series.forming.is_none_or(|f| f.start_ms <= start)
            && series.closed.last().is_none_or(|c| c.start_ms < start)
        {
            series.forming = Some(candle);
        }
    }

    /// Notes that `connection` delivered data sent at `sent_ms`.
    pub(super) fn newest(&mut self, connection: usize, sent_ms: i64) {
        if let Some(c) = self.connections.get_mut(connection) {
            c.newest_ms = c.newest_ms.max(sent_ms);
        }
    }

    /// Takes the candles streamed since the last call, by symbol and time frame index.
    pub(super) fn take_candles(&mut self) -> HashMap<(String, usize), StreamedSeries> {
        std::mem::take(&mut self.candles)
    }

    /// Whether any symbol waits for a resync its stream is ready for (subscribed).
    pub(super) fn resync_wanted(&self) -> bool {
        self.symbols
            .values()
            .any(|e| e.gap_free_since_ms.is_none() && e.subscribed.is_some())
    }

    /// Takes in a REST answer as of `as_of_ms` (exchange clock; a row with its own time is as
    /// of that) requested at `asked`: a
    /// symbol in a gap whose stream was subscribed before the request is resynced from it and
    /// gap-free from `as_of_ms`; a gap-free symbol whose field the stream has not set since
    /// differs from it has lost a message: the field is corrected and counted, and the symbol
    /// had a gap. Returns the symbols the answer lists.
    pub(super) fn reconcile(&mut self, tickers: &[Ticker], as_of_ms: i64, asked: Instant) {
        for ticker in tickers {
            let Some(entry) = self.symbols.get_mut(&ticker.symbol) else {
                continue;
            };
            let rest = values(ticker);
            let as_of_ms = ticker.data_ms.unwrap_or(as_of_ms);
            // Subscribed before the request: everything after the answer comes by stream, and
            // the answer is a whole ticker to apply the stream's changes to.
            let current = entry.subscribed.is_some_and(|at| at <= asked);
            let mut differ = 0;
            for ((field, set_ms), rest) in entry.fields.iter_mut().zip(&mut entry.field_ms).zip(rest) {
                if *set_ms <= as_of_ms && field.to_bits() != rest.to_bits() {
                    differ += 1;
                    *field = rest;
                    *set_ms = as_of_ms;
                }
            }
            entry.data_ms = entry.data_ms.max(as_of_ms);
            match entry.gap_free_since_ms {
                None if current => {
                    entry.gap_free_since_ms = Some(as_of_ms);
                    entry.whole_seen = true;
                    self.counts.resyncs += 1;
                }
                Some(_) if differ > 0 => {
                    self.counts.corrected_fields += differ;
                    *self.counts.gaps.entry(GapReason::Diverged).or_default() += 1;
                    self.counts.resyncs += 1;
                    entry.gap_free_since_ms = Some(as_of_ms);
                }
                _ => {}
            }
        }
    }

    /// The tickers as of now, each with the time of its newest data, leaving out those whose
    /// newest data is older than `max_age` at `now_ms` (counted in `stale`), and every symbol's
    /// continuity.
    pub(super) fn read(&mut self, now_ms: i64, max_age: Duration) -> (Vec<Ticker>, Vec<SymbolContinuity>) {
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let mut tickers = Vec::with_capacity(self.symbols.len());
        let mut continuity = Vec::with_capacity(self.symbols.len());
        let mut stale = 0;
        for (symbol, entry) in &self.symbols {
            let connection = entry.connection.and_then(|c| self.connections.get(c));
            let on_stream = entry.subscribed.is_some() && entry.whole_seen && connection.is_some_and(|c| c.live);
            let data_ms = match connection {
                Some(c) if on_stream => entry.data_ms.max(c.newest_ms),
                _ => entry.data_ms,
            };
            continuity.push(SymbolContinuity {
                symbol: symbol.clone(),
                gap_free_since_ms: entry.gap_free_since_ms,
                data_ms,
            });
            if now_ms.saturating_sub(data_ms) > max_age_ms {
                stale += 1;
                continue;
            }
            let [price, change_24h, volume_24h, turnover_24h, high_24h, low_24h] = entry.fields;
            tickers.push(Ticker {
                symbol: symbol.clone(),
                price,
                change_24h,
                volume_24h,
                turnover_24h,
                high_24h,
                low_24h,
                data_ms: Some(data_ms),
            });
        }
        self.counts.stale = stale;
        (tickers, continuity)
    }

    /// Counts a message that was not one of the documented shapes, by `reason`.
    pub(super) fn rejected(&mut self, reason: &'static str) {
        *self.counts.rejected.entry(reason).or_default() += 1;
    }

    /// Live connections, symbols gap-free and in a gap.
    pub(super) fn tally(&self) -> (u32, u32, u32) {
        let live = self.connections.iter().filter(|c| c.live).count();
        let gap_free = self.symbols.values().filter(|e| e.gap_free_since_ms.is_some()).count();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (count(live), count(gap_free), count(self.symbols.len() - gap_free))
    }
}

/// Puts `entry` in a gap for `reason`, counted once per gap.
fn gap(entry: &mut Entry, counts: &mut StreamCounts, reason: GapReason) {
    if entry.gap_free_since_ms.take().is_some() {
        *counts.gaps.entry(reason).or_default() += 1;
    }
}

/// A ticker's fields in [`FIELDS`]' order.
fn values(t: &Ticker) -> [f64; FIELDS] {
    [
        t.price,
        t.change_24h,
        t.volume_24h,
        t.turnover_24h,
        t.high_24h,
        t.low_24h,
    ]
}

#[cfg(test)]
mod tests;
