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

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::dialect::{candle, number, Dialect, TickerAnswer};
use super::exchange;
use super::stream::wire::{Event, Limits, TickerFields, Wire};
use super::{Opened, Registration};
use crate::config::Config;
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;

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

/// A stream message: an answer (a subscription's, or the heartbeat's), or a topic's data.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    ts: Option<i64>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
    #[serde(borrow)]
    op: Option<Cow<'a, str>>,
    success: Option<bool>,
    #[serde(borrow)]
    ret_msg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    req_id: Option<Cow<'a, str>>,
}

/// A topic's data, read in the message's one pass: an object for a ticker, an array for
/// candles (the topic, which says which to expect, may come after it).
enum Data<'a> {
    Ticker(StreamedTicker<'a>),
    Klines(Vec<StreamedKline<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        use serde::de::{MapAccess, SeqAccess, Visitor};
        struct Shape<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Shape<'a> {
            type Value = Data<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a ticker's object or an array of candles")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> std::result::Result<Data<'a>, M::Error> {
                StreamedTicker::deserialize(MapAccessDeserializer::new(map)).map(Data::Ticker)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> std::result::Result<Data<'a>, S::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Data::Klines)
            }
        }
        deserializer.deserialize_any(Shape(std::marker::PhantomData))
    }
}

/// A ticker's fields in a message: all in a snapshot, the changed ones in a delta.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamedTicker<'a> {
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    #[serde(borrow)]
    last_price: Option<Cow<'a, str>>,
    #[serde(borrow)]
    price_24h_pcnt: Option<Cow<'a, str>>,
    #[serde(borrow)]
    volume_24h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    turnover_24h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    high_price_24h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    low_price_24h: Option<Cow<'a, str>>,
}

/// A candle in a kline message.
#[derive(Deserialize)]
struct StreamedKline<'a> {
    start: i64,
    #[serde(borrow)]
    open: Cow<'a, str>,
    #[serde(borrow)]
    high: Cow<'a, str>,
    #[serde(borrow)]
    low: Cow<'a, str>,
    #[serde(borrow)]
    close: Cow<'a, str>,
    #[serde(borrow)]
    volume: Cow<'a, str>,
    #[serde(borrow)]
    turnover: Cow<'a, str>,
    confirm: bool,
}

/// Reads one stream message into `events`.
fn read_message<'t>(text: &'t str, events: &mut Vec<Event<'t>>) -> Result<()> {
    let message: Message = serde_json::from_str(text)?;
    if let Some(op) = message.op {
        let reason = message.ret_msg.unwrap_or_default();
        if op == "ping" || op == "pong" {
            events.push(Event::Pong);
            return Ok(());
        }
        let id = message
            .req_id
            .and_then(|id| id.parse().ok())
            .context("an answer without its request's id")?;
        let refused = (message.success != Some(true)).then(|| crate::shared::text::sanitise(&reason, 200));
        events.push(Event::Answer { id, refused });
        return Ok(());
    }
    let (Some(topic), Some(data), Some(sent_ms)) = (message.topic, message.data, message.ts) else {
        bail!("neither an answer nor a topic's data");
    };
    if let Some(symbol) = topic.strip_prefix("tickers.") {
        events.push(ticker_event(symbol, message.kind.as_deref(), data, sent_ms)?);
    } else if let Some(rest) = topic.strip_prefix("kline.") {
        kline_events(rest, data, sent_ms, events)?;
    } else {
        bail!("a topic not subscribed to");
    }
    Ok(())
}

/// The event of `symbol`'s ticker message of type `kind`.
fn ticker_event<'t>(symbol: &str, kind: Option<&str>, data: Data<'t>, sent_ms: i64) -> Result<Event<'t>> {
    let Data::Ticker(t) = data else {
        bail!("candles on the ticker topic of {symbol}");
    };
    if t.symbol != symbol {
        bail!("a ticker of {} on the topic of {symbol}", t.symbol);
    }
    let field = |f: &Option<Cow<str>>| f.as_deref().map(number);
    let fields = TickerFields([
        field(&t.last_price),
        t.price_24h_pcnt.as_deref().map(change),
        field(&t.volume_24h),
        field(&t.turnover_24h),
        field(&t.high_price_24h),
        field(&t.low_price_24h),
    ]);
    let whole = match kind {
        Some("snapshot") => true,
        Some("delta") => false,
        other => bail!("a ticker of type {other:?}"),
    };
    Ok(Event::Ticker {
        symbol: t.symbol,
        whole,
        fields,
        sent_ms,
    })
}

/// The events of a kline message on the topic `kline.{rest}`.
fn kline_events<'t>(rest: &str, data: Data<'t>, sent_ms: i64, events: &mut Vec<Event<'t>>) -> Result<()> {
    let (interval, symbol) = rest.split_once('.').context("a kline topic without its symbol")?;
    let timeframe = crate::shared::timeframe::TIMEFRAMES
        .into_iter()
        .find(|&tf| self::interval(tf) == interval)
        .with_context(|| format!("a kline of interval {interval:?}"))?;
    let Data::Klines(klines) = data else {
        bail!("a ticker on the kline topic of {symbol}");
    };
    for k in klines {
        events.push(Event::Kline {
            symbol: Cow::Owned(symbol.to_string()),
            timeframe,
            candle: Candle {
                start_ms: k.start,
                open: number(&k.open),
                high: number(&k.high),
                low: number(&k.low),
                close: number(&k.close),
                volume: number(&k.volume),
                turnover: number(&k.turnover),
            },
            closed: k.confirm,
            sent_ms,
        });
    }
    Ok(())
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

#[cfg(test)]
mod tests;
