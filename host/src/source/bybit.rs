//! Bybit's v5 public REST API, linear perpetuals (`bybit`, `bybit:linear`) and spot
//! (`bybit:spot`):
//! - tickers: `GET /v5/market/tickers?category=linear|spot`. Numbers are strings;
//!   `price24hPcnt` is a fraction (`0.0123` is +1.23 %); `volume24h` is base volume and
//!   `turnover24h` quote turnover.
//! - klines: `GET /v5/market/kline?category=linear|spot&symbol=S&interval=1|5|15|60|240|D&limit=N`;
//!   `result.list` holds rows newest first, each `[startTime, open, high, low, close, volume,
//!   turnover]`, every field a string.
//!
//! - streams (`wss://stream.bybit.com/v5/public/linear|spot`): `tickers.{symbol}` (linear: a
//!   snapshot, then deltas of the changed fields every 100 ms; spot: snapshots every 50 ms) and
//!   `kline.{interval}.{symbol}` (`data` an array of candles, `confirm` once closed); requests
//!   `{"req_id","op":"subscribe|unsubscribe","args"}` answered `{"success","ret_msg","req_id",
//!   "op"}`; the client's heartbeat `{"op":"ping"}`, answered with `op` "ping" and `ret_msg`
//!   "pong".
//!
//! Errors come as `retCode != 0` with `retMsg`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::dialect::{candle, number, Dialect, TickerAnswer};
use super::exchange;
use super::stream::wire::{Event, Limits, Wire};
use super::{Opened, Registration};
use crate::config::Config;
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;
use messages::read_message;

/// `bybit` (linear perpetuals, also `bybit:linear`) and `bybit:spot`: Bybit's v5 tickers.
pub(super) const BYBIT: Registration = Registration {
    name: "bybit",
    usage: "bybit, bybit:spot",
    paced: false,
    resumable: true,
    open,
};

fn open(config: &Config, argument: Option<&str>) -> Result<Opened> {
    let spot = match argument {
        None | Some("linear") => false,
        Some("spot") => true,
        Some(other) => bail!("source bybit:{other}: the market is linear or spot"),
    };
    let bybit = Arc::new(Bybit { spot });
    exchange::open(config, bybit.clone(), bybit)
}

/// Bybit v5, on one market.
struct Bybit {
    /// Spot, else linear perpetuals.
    spot: bool,
}

impl Bybit {
    /// The `category` of every request.
    fn category(&self) -> &'static str {
        if self.spot {
            "spot"
        } else {
            "linear"
        }
    }
}

impl Dialect for Bybit {
    fn name(&self) -> &'static str {
        if self.spot {
            "bybit:spot"
        } else {
            "bybit"
        }
    }

    fn default_url(&self) -> &'static str {
        "https://api.bybit.com"
    }

    fn tickers_path(&self) -> String {
        format!("/v5/market/tickers?category={}", self.category())
    }

    fn parse_tickers(&self, body: &[u8]) -> Result<TickerAnswer> {
        parse_tickers(body)
    }

    fn kline_path(&self, symbol: &str, timeframe: Timeframe, limit: u32) -> String {
        let interval = interval(timeframe);
        let category = self.category();
        format!("/v5/market/kline?category={category}&symbol={symbol}&interval={interval}&limit={limit}")
    }

    fn parse_klines(&self, body: &[u8]) -> Result<Vec<Candle>> {
        parse_klines(body)
    }

    /// 600 requests in 5 s an IP; half of it.
    fn default_kline_rate(&self) -> u32 {
        60
    }
}

impl Wire for Bybit {
    fn default_ws_url(&self) -> &'static str {
        "wss://stream.bybit.com"
    }

    fn ws_path(&self) -> &'static str {
        if self.spot {
            "/v5/public/spot"
        } else {
            "/v5/public/linear"
        }
    }

    /// Spot takes 10 topics a request, linear any number; a connection's topics may not pass
    /// 21,000 characters (400 topics of the longest names, `kline.240.` and 30 letters, is
    /// 17,200); 500 connections per 5 minutes. The request pace is not published: 5 a second.
    fn limits(&self) -> Limits {
        Limits {
            topics_per_request: if self.spot { 10 } else { 100 },
            topics_per_connection: 400,
            requests_per_second: 5,
            connections_per_5_minutes: 500,
            max_connection_age: None,
            push_interval: Duration::from_millis(if self.spot { 50 } else { 100 }),
            heartbeat: Duration::from_secs(20),
        }
    }

    fn ticker_topic(&self, symbol: &str) -> String {
        format!("tickers.{symbol}")
    }

    fn kline_topic(&self, symbol: &str, timeframe: Timeframe) -> String {
        format!("kline.{}.{symbol}", interval(timeframe))
    }

    fn request(&self, subscribe: bool, topics: &[String], id: u64) -> String {
        let op = if subscribe { "subscribe" } else { "unsubscribe" };
        serde_json::json!({"req_id": id.to_string(), "op": op, "args": topics}).to_string()
    }

    fn ping(&self) -> Option<String> {
        Some(r#"{"req_id":"ping","op":"ping"}"#.to_string())
    }

    fn read<'t>(&self, text: &'t str, events: &mut Vec<Event<'t>>) -> Result<()> {
        read_message(text, events)
    }
}

/// Bybit's name of `timeframe`, in kline requests and topics.
fn interval(timeframe: Timeframe) -> &'static str {
    match timeframe {
        Timeframe::M1 => "1",
        Timeframe::M5 => "5",
        Timeframe::M15 => "15",
        Timeframe::H1 => "60",
        Timeframe::H4 => "240",
        Timeframe::D1 => "D",
    }
}

/// Every Bybit v5 answer: a code (0 for success), a message, the result, and the server's time.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitResponse<R> {
    ret_code: i64,
    ret_msg: String,
    result: Option<R>,
    #[serde(default)]
    time: Option<i64>,
}

impl<R> BybitResponse<R> {
    /// The result of an answer that reports success, and its time, else the error it reports.
    fn parse(body: &[u8]) -> Result<(R, Option<i64>)>
    where
        R: serde::de::DeserializeOwned,
    {
        let response: Self = serde_json::from_slice(body)?;
        if response.ret_code != 0 {
            bail!("Bybit error {}: {}", response.ret_code, response.ret_msg);
        }
        Ok((response.result.context("Bybit response has no result")?, response.time))
    }
}

#[derive(Deserialize)]
struct BybitResult {
    /// Absent from error bodies (`"result": {}`), which `retCode` reports.
    #[serde(default)]
    list: Vec<BybitTicker>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitTicker {
    symbol: String,
    last_price: String,
    price_24h_pcnt: String,
    high_price_24h: String,
    low_price_24h: String,
    turnover_24h: String,
    volume_24h: String,
}

fn parse_tickers(body: &[u8]) -> Result<TickerAnswer> {
    let (result, as_of_ms) = BybitResponse::<BybitResult>::parse(body)?;
    let tickers = result
        .list
        .into_iter()
        .map(|t| Ticker {
            symbol: t.symbol,
            price: number(&t.last_price),
            change_24h: change(&t.price_24h_pcnt),
            volume_24h: number(&t.volume_24h),
            turnover_24h: number(&t.turnover_24h),
            high_24h: number(&t.high_price_24h),
            low_24h: number(&t.low_price_24h),
            data_ms: None,
        })
        .collect();
    Ok(TickerAnswer { tickers, as_of_ms })
}

/// The 24 h change in percent, from Bybit's fraction: the same operation for an answer and a
/// message, so the two compare exactly.
fn change(fraction: &str) -> f64 {
    number(fraction) * 100.0
}

#[derive(Deserialize)]
struct BybitKlineList {
    #[serde(default)]
    list: Vec<Vec<Value>>,
}

fn parse_klines(body: &[u8]) -> Result<Vec<Candle>> {
    let list = BybitResponse::<BybitKlineList>::parse(body)?.0.list;
    // Newest first: turned around.
    Ok(list
        .iter()
        .rev()
        .map(|row| candle(row, [0, 1, 2, 3, 4, 5, 6]))
        .collect())
}

mod messages;
#[cfg(test)]
mod tests;
