//! The loopback exchange's one-minute candles (its only time frame): each symbol's candles
//! follow its price as it walks, one closing at each minute; REST answers the kline requests of
//! either dialect from them, and connections push the forming candle every second and each
//! closed one once (`confirm` / `x`), unless a test loses it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

/// One minute's candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Minute {
    pub start: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub turnover: f64,
}

/// The most closed candles kept per symbol.
const KEPT: usize = 240;

/// Every symbol's candles, and the closes to lose.
#[derive(Debug, Default)]
pub(super) struct Candles {
    /// By symbol: the closed candles, oldest first, and the forming one.
    by_symbol: HashMap<String, (Vec<Minute>, Minute)>,
    /// Symbols whose next closed candle no connection pushes.
    lose: HashSet<String>,
}

impl Candles {
    /// Takes a trade of `symbol` at `price` at `now_ms`.
    pub(super) fn trade(&mut self, symbol: &str, price: f64, now_ms: i64) {
        let start = now_ms - now_ms.rem_euclid(60_000);
        let opening = Minute {
            start,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0.0,
            turnover: 0.0,
        };
        let (closed, forming) = self
            .by_symbol
            .entry(symbol.to_string())
            .or_insert((Vec::new(), opening));
        if forming.start < start {
            closed.push(*forming);
            if closed.len() > KEPT {
                closed.remove(0);
            }
            *forming = opening;
        }
        forming.high = forming.high.max(price);
        forming.low = forming.low.min(price);
        forming.close = price;
        forming.volume += 1.0;
        forming.turnover += price;
    }

    /// The forming candle of `symbol`.
    pub(super) fn forming(&self, symbol: &str) -> Option<Minute> {
        self.by_symbol.get(symbol).map(|(_, f)| *f)
    }

    /// `symbol`'s candles closed after `after` (a start), oldest first.
    pub(super) fn closed_after(&self, symbol: &str, after: i64) -> Vec<Minute> {
        self.by_symbol
            .get(symbol)
            .map(|(closed, _)| closed.iter().filter(|m| m.start > after).copied().collect())
            .unwrap_or_default()
    }

    /// The newest `limit` candles of `symbol`, the forming one included, oldest first.
    pub(super) fn newest(&self, symbol: &str, limit: usize) -> Vec<Minute> {
        let Some((closed, forming)) = self.by_symbol.get(symbol) else {
            return Vec::new();
        };
        let mut all: Vec<Minute> = closed.iter().copied().chain([*forming]).collect();
        let keep = all.len().saturating_sub(limit);
        all.drain(..keep);
        all
    }

    /// Loses `symbol`'s next closed candle: no connection pushes it.
    pub(super) fn lose_next_close(&mut self, symbol: &str) {
        self.lose.insert(symbol.to_string());
    }

    /// Whether the close of `symbol` about to be pushed is lost (once).
    pub(super) fn lost(&mut self, symbol: &str) -> bool {
        self.lose.remove(symbol)
    }
}

/// The query parameters of `path`.
pub(super) fn query(path: &str) -> BTreeMap<&str, &str> {
    path.split_once('?')
        .map(|(_, q)| q.split('&').filter_map(|p| p.split_once('=')).collect())
        .unwrap_or_default()
}

/// Bybit's kline answer: rows newest first, every field a string.
pub(super) fn bybit_rows(candles: &[Minute], category: &str, now: i64) -> String {
    let rows: Vec<String> = candles
        .iter()
        .rev()
        .map(|m| {
            format!(
                r#"["{}","{}","{}","{}","{}","{}","{}"]"#,
                m.start, m.open, m.high, m.low, m.close, m.volume, m.turnover
            )
        })
        .collect();
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"{category}","list":[{}]}},"time":{now}}}"#,
        rows.join(",")
    )
}

/// Binance's kline answer: rows oldest first, times as integers.
pub(super) fn binance_rows(candles: &[Minute]) -> String {
    let rows: Vec<String> = candles
        .iter()
        .map(|m| {
            format!(
                r#"[{},"{}","{}","{}","{}","{}",{},"{}",1,"0","0","0"]"#,
                m.start,
                m.open,
                m.high,
                m.low,
                m.close,
                m.volume,
                m.start + 59_999,
                m.turnover
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// A kline message of `m` on `topic` (Bybit) or of `symbol` (Binance).
pub(super) fn message(bybit: bool, topic: &str, symbol: &str, m: &Minute, closed: bool, now: i64) -> String {
    let mut out = String::with_capacity(320);
    if bybit {
        let _ = write!(
            out,
            r#"{{"topic":"{topic}","data":[{{"start":{},"end":{},"interval":"1","open":"{}","close":"{}","high":"{}","low":"{}","volume":"{}","turnover":"{}","confirm":{closed},"timestamp":{now}}}],"ts":{now},"type":"snapshot"}}"#,
            m.start,
            m.start + 59_999,
            m.open,
            m.close,
            m.high,
            m.low,
            m.volume,
            m.turnover
        );
    } else {
        let _ = write!(
            out,
            r#"{{"e":"kline","E":{now},"s":"{symbol}","k":{{"t":{},"T":{},"s":"{symbol}","i":"1m","o":"{}","c":"{}","h":"{}","l":"{}","v":"{}","n":1,"x":{closed},"q":"{}"}}}}"#,
            m.start,
            m.start + 59_999,
            m.open,
            m.close,
            m.high,
            m.low,
            m.volume,
            m.turnover
        );
    }
    out
}
