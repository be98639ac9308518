//! What a source needs of one exchange's public REST API: where its 24 h tickers and its klines
//! are, how their answers read, and how fast klines may be asked for. Each exchange is one file
//! implementing [`Dialect`] (`bybit.rs`, `binance.rs`) and one line in [`SOURCES`](super::SOURCES);
//! `exchange.rs` polls any of them, and `backfill.rs` paces their kline requests.
//!
//! A number that does not parse becomes NaN (a start time, -1), so the row is dropped and
//! counted by the snapshot's or the candle store's validation instead of failing the whole poll.

use anyhow::Result;
use serde_json::Value;

use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;

/// One exchange API, as its source polls it.
pub(super) trait Dialect: Send + Sync {
    /// The source's name, as `pulse:status` says it (`bybit`, `bybit:spot`, `binance`).
    fn name(&self) -> &'static str;
    /// The public API's base URL, used unless `--exchange-url` names another.
    fn default_url(&self) -> &'static str;
    /// The path and query of the 24 h tickers of every symbol.
    fn tickers_path(&self) -> String;
    /// The tickers in a tickers answer, and the exchange's time of it if it says.
    fn parse_tickers(&self, body: &[u8]) -> Result<TickerAnswer>;
    /// The path and query of the kline request for `limit` candles of `symbol`, newest (still
    /// forming) included.
    fn kline_path(&self, symbol: &str, timeframe: Timeframe, limit: u32) -> String;
    /// The candles in a kline answer, oldest first.
    fn parse_klines(&self, body: &[u8]) -> Result<Vec<Candle>>;
    /// Kline requests per second by default: half of what the exchange allows an IP, leaving
    /// the rest to the ticker polls and to anything else on the same address.
    fn default_kline_rate(&self) -> u32;
}

/// The tickers of one answer.
#[derive(Debug)]
pub(super) struct TickerAnswer {
    /// Every row, as it came.
    pub tickers: Vec<Ticker>,
    /// When the exchange answered, by its clock (Bybit's `time`; Binance's newest `closeTime`):
    /// a streaming source tells what the answer can correct by it, for the rows that carry no
    /// time of their own (Binance's rows each carry theirs, as their `data_ms`).
    pub as_of_ms: Option<i64>,
}

/// The most candles one request asks for (both exchanges serve up to 1,000).
pub(super) const MAX_LIMIT: u32 = 1_000;

/// A decimal number in an answer's text; NaN when it is not one.
pub(super) fn number(text: &str) -> f64 {
    text.trim().parse().unwrap_or(f64::NAN)
}

/// A streamed candle starting at `start_ms`, from the texts of its open, high, low, close,
/// volume and turnover, as both exchanges' kline messages carry them.
pub(super) fn candle_of_texts(start_ms: i64, [open, high, low, close, volume, turnover]: [&str; 6]) -> Candle {
    Candle {
        start_ms,
        open: number(open),
        high: number(high),
        low: number(low),
        close: number(close),
        volume: number(volume),
        turnover: number(turnover),
    }
}

/// The candle in `row`, reading start, open, high, low, close, volume and turnover from the
/// positions in `at`.
pub(super) fn candle(row: &[Value], at: [usize; 7]) -> Candle {
    let number = |i: usize| match row.get(at[i]) {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(f64::NAN),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    let start = number(0);
    Candle {
        start_ms: if start.is_finite() && start.fract() == 0.0 {
            start as i64
        } else {
            -1
        },
        open: number(1),
        high: number(2),
        low: number(3),
        close: number(4),
        volume: number(5),
        turnover: number(6),
    }
}
