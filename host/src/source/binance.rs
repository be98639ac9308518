//! Binance's public spot REST API (`binance`):
//! - tickers: `GET /api/v3/ticker/24hr`, an array. `priceChangePercent` is already in percent;
//!   `volume` is base volume and `quoteVolume` quote turnover.
//! - klines: `GET /api/v3/klines?symbol=S&interval=1m|5m|15m|1h|4h|1d&limit=N`, an array of
//!   rows oldest first, each `[openTime, open, high, low, close, volume, closeTime,
//!   quoteVolume, trades, ...]`, times as integers and prices as strings.
//!
//! - streams (`wss://stream.binance.com:9443/ws`): `<symbol>@ticker` (the 24 h ticker whole,
//!   every second: `c`, `P`, `v`, `q`, `h`, `l`, sent at `E`) and `<symbol>@kline_<interval>`
//!   (`k`, with `x` once closed), symbols in lower case; requests
//!   `{"method":"SUBSCRIBE|UNSUBSCRIBE","params","id"}` answered `{"result":null,"id"}` or an
//!   error (`{"code","msg"}`, flat or under `error`); the server pings every 20 s and wants a pong
//!   within a minute; `{"e":"serverShutdown"}` says to open a new connection.
//!
//! Errors come as a non-2xx status with `{"code": -1121, "msg": "..."}`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::dialect::{candle, candle_of_texts, number, Dialect, TickerAnswer};
use super::exchange;
use super::stream::wire::{Event, Limits, TickerFields, Wire};
use super::{no_argument, Opened, Registration};
use crate::config::Config;
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;

/// `binance`: Binance's spot 24 h tickers.
pub(super) const BINANCE: Registration = Registration {
    name: "binance",
    usage: "binance",
    paced: false,
    resumable: true,
    open,
};

fn open(config: &Config, argument: Option<&str>) -> Result<Opened> {
    no_argument("binance", argument)?;
    exchange::open(config, Arc::new(Binance), Arc::new(Binance))
}

/// Binance spot.
struct Binance;

impl Dialect for Binance {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn default_url(&self) -> &'static str {
        "https://api.binance.com"
    }

    fn tickers_path(&self) -> String {
        "/api/v3/ticker/24hr".to_string()
    }

    fn parse_tickers(&self, body: &[u8]) -> Result<TickerAnswer> {
        parse_tickers(body)
    }

    fn kline_path(&self, symbol: &str, timeframe: Timeframe, limit: u32) -> String {
        let interval = crate::shared::timeframe::label(timeframe);
        format!("/api/v3/klines?symbol={symbol}&interval={interval}&limit={limit}")
    }

    fn parse_klines(&self, body: &[u8]) -> Result<Vec<Candle>> {
        parse_klines(body)
    }

    /// 6,000 weight a minute an IP, 2 a kline request; half of it.
    fn default_kline_rate(&self) -> u32 {
        25
    }
}

impl Wire for Binance {
    fn default_ws_url(&self) -> &'static str {
        "wss://stream.binance.com:9443"
    }

    fn ws_path(&self) -> &'static str {
        "/ws"
    }

    /// 1,024 streams a connection; 5 messages a second from the client, pings and pongs
    /// included (3 for requests, the rest for heartbeats); 300 connections per 5 minutes; a
    /// connection lasts 24 h at most. A request's size is not limited: 200 streams keep it
    /// short.
    fn limits(&self) -> Limits {
        Limits {
            topics_per_request: 200,
            topics_per_connection: 1_024,
            requests_per_second: 3,
            connections_per_5_minutes: 300,
            max_connection_age: Some(Duration::from_secs(24 * 3600)),
            push_interval: Duration::from_secs(1),
            heartbeat: Duration::from_secs(20),
        }
    }

    fn ticker_topic(&self, symbol: &str) -> String {
        format!("{}@ticker", symbol.to_ascii_lowercase())
    }

    fn kline_topic(&self, symbol: &str, timeframe: Timeframe) -> String {
        let interval = crate::shared::timeframe::label(timeframe);
        format!("{}@kline_{interval}", symbol.to_ascii_lowercase())
    }

    fn request(&self, subscribe: bool, topics: &[String], id: u64) -> String {
        let method = if subscribe { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
        serde_json::json!({"method": method, "params": topics, "id": id}).to_string()
    }

    /// None: Binance pings, and a ping frame probes a silent connection.
    fn ping(&self) -> Option<String> {
        None
    }

    fn read<'t>(&self, text: &'t str, events: &mut Vec<Event<'t>>) -> Result<()> {
        read_message(text, events)
    }
}

/// A stream message: an event (`e`), or the answer to a request (`id`).
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    e: Option<Cow<'a, str>>,
    #[serde(rename = "E")]
    sent_ms: Option<i64>,
    #[serde(borrow)]
    s: Option<Cow<'a, str>>,
    #[serde(borrow)]
    c: Option<Cow<'a, str>>,
    #[serde(rename = "P", borrow)]
    change: Option<Cow<'a, str>>,
    #[serde(borrow)]
    v: Option<Cow<'a, str>>,
    #[serde(borrow)]
    q: Option<Cow<'a, str>>,
    #[serde(borrow)]
    h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    l: Option<Cow<'a, str>>,
    #[serde(borrow)]
    k: Option<StreamedKline<'a>>,
    id: Option<u64>,
    code: Option<i64>,
    #[serde(borrow)]
    msg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error: Option<Refusal<'a>>,
}

/// An error answer's body, when it comes under `error`.
#[derive(Deserialize)]
struct Refusal<'a> {
    code: i64,
    #[serde(borrow)]
    msg: Cow<'a, str>,
}

/// The candle of a kline event.
#[derive(Deserialize)]
struct StreamedKline<'a> {
    t: i64,
    #[serde(borrow)]
    i: Cow<'a, str>,
    #[serde(borrow)]
    o: Cow<'a, str>,
    #[serde(borrow)]
    h: Cow<'a, str>,
    #[serde(borrow)]
    l: Cow<'a, str>,
    #[serde(borrow)]
    c: Cow<'a, str>,
    #[serde(borrow)]
    v: Cow<'a, str>,
    #[serde(borrow)]
    q: Cow<'a, str>,
    x: bool,
}

/// Reads one stream message into `events`.
fn read_message<'t>(text: &'t str, events: &mut Vec<Event<'t>>) -> Result<()> {
    let m: Message = serde_json::from_str(text)?;
    let Some(kind) = m.e.as_deref() else {
        let id = m.id.context("neither an event nor an answer")?;
        let refused = match (m.error, m.code) {
            (Some(error), _) => Some(format!("{}: {}", error.code, error.msg)),
            (None, Some(code)) => Some(format!("{code}: {}", m.msg.unwrap_or_default())),
            (None, None) => None,
        };
        let refused = refused.map(|r| crate::shared::text::sanitise(&r, 200));
        events.push(Event::Answer { id, refused });
        return Ok(());
    };
    let sent_ms = m.sent_ms.context("an event without its time")?;
    match kind {
        "24hrTicker" => {
            let symbol = m.s.context("a ticker without its symbol")?;
            let field = |f: &Option<Cow<str>>| Some(f.as_deref().map_or(f64::NAN, number));
            events.push(Event::Ticker {
                symbol,
                whole: true,
                fields: TickerFields([
                    field(&m.c),
                    field(&m.change),
                    field(&m.v),
                    field(&m.q),
                    field(&m.h),
                    field(&m.l),
                ]),
                sent_ms,
            });
        }
        "kline" => {
            let symbol = m.s.context("a kline without its symbol")?;
            let k = m.k.context("a kline event without its candle")?;
            let timeframe = crate::shared::timeframe::TIMEFRAMES
                .into_iter()
                .find(|&tf| crate::shared::timeframe::label(tf) == k.i)
                .with_context(|| format!("a kline of interval {:?}", k.i))?;
            events.push(Event::Kline {
                symbol,
                timeframe,
                candle: candle_of_texts(k.t, [&k.o, &k.h, &k.l, &k.c, &k.v, &k.q]),
                closed: k.x,
                sent_ms,
            });
        }
        "serverShutdown" => events.push(Event::Closing),
        other => bail!("an event of kind {other:?}"),
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BinanceTicker {
    symbol: String,
    price_change_percent: String,
    last_price: String,
    high_price: String,
    low_price: String,
    volume: String,
    quote_volume: String,
    #[serde(default)]
    close_time: Option<i64>,
}

fn parse_tickers(body: &[u8]) -> Result<TickerAnswer> {
    let list: Vec<BinanceTicker> = serde_json::from_slice(body)?;
    let as_of_ms = list.iter().filter_map(|t| t.close_time).max();
    let tickers = list
        .into_iter()
        .map(|t| Ticker {
            symbol: t.symbol,
            price: number(&t.last_price),
            change_24h: number(&t.price_change_percent),
            volume_24h: number(&t.volume),
            turnover_24h: number(&t.quote_volume),
            high_24h: number(&t.high_price),
            low_24h: number(&t.low_price),
            // Each row's statistics close at their own time: a quiet symbol's are older.
            data_ms: t.close_time,
        })
        .collect();
    Ok(TickerAnswer { tickers, as_of_ms })
}

fn parse_klines(body: &[u8]) -> Result<Vec<Candle>> {
    let rows: Vec<Vec<Value>> = serde_json::from_slice(body)?;
    Ok(rows.iter().map(|row| candle(row, [0, 1, 2, 3, 4, 5, 7])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_fields_map_to_one_meaning_each() {
        let body = br#"[{"symbol":"ETHUSDT","priceChange":"50.0","priceChangePercent":"1.493",
            "weightedAvgPrice":"3380","prevClosePrice":"3350","lastPrice":"3400.1","lastQty":"0.5",
            "bidPrice":"3400","bidQty":"1","askPrice":"3400.2","askQty":"2","openPrice":"3350.1",
            "highPrice":"3420","lowPrice":"3330","volume":"1500000","quoteVolume":"5100000000",
            "openTime":1,"closeTime":2,"firstId":1,"lastId":2,"count":2}]"#;
        let answer = parse_tickers(body).unwrap();
        assert_eq!(answer.as_of_ms, Some(2));
        let eth = &answer.tickers[0];
        assert_eq!(eth.data_ms, Some(2));
        assert_eq!(
            (eth.price, eth.change_24h, eth.volume_24h),
            (3400.1, 1.493, 1_500_000.0)
        );
        assert_eq!((eth.turnover_24h, eth.high_24h, eth.low_24h), (5.1e9, 3420.0, 3330.0));
        assert!(parse_tickers(br#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }

    #[test]
    fn binance_rows_come_oldest_first_with_integer_times() {
        let body = br#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"],
            [1499040060000,"0.01577100","0.01600000","0.01570000","0.01590000","10.5",1499040119999,"0.1665",3,"1","1","0"],
            ["x"]]"#;
        let candles = parse_klines(body).unwrap();
        assert_eq!(candles[0].start_ms, 1_499_040_000_000);
        assert_eq!(
            (candles[0].close, candles[0].volume, candles[0].turnover),
            (0.015771, 148976.11427815, 2434.19055334)
        );
        assert_eq!(candles[1].start_ms, 1_499_040_060_000);
        assert_eq!(candles[2].start_ms, -1);
        assert!(parse_klines(br#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }

    #[test]
    fn binance_stream_messages_read_as_documented() {
        let mut events = Vec::new();
        for text in [
            r#"{"result":null,"id":1}"#,
            r#"{"code":2,"msg":"Invalid request: too many parameters","id":2}"#,
            r#"{"error":{"code":4,"msg":"Too many subscriptions"},"id":3}"#,
            r#"{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}"#,
            r#"{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}"#,
            r#"{"e":"serverShutdown","E":1770123456789}"#,
        ] {
            read_message(text, &mut events).unwrap();
        }
        assert_eq!(events[0], Event::Answer { id: 1, refused: None });
        assert!(matches!(&events[1], Event::Answer { id: 2, refused: Some(r) } if r.contains("too many parameters")));
        assert!(
            matches!(&events[2], Event::Answer { id: 3, refused: Some(r) } if r.contains("Too many subscriptions"))
        );
        let Event::Ticker {
            symbol,
            whole,
            fields,
            sent_ms,
        } = &events[3]
        else {
            panic!("{events:?}")
        };
        assert_eq!((symbol.as_ref(), *whole, *sent_ms), ("BNBBTC", true, 1_672_515_782_136));
        assert_eq!(
            fields.0,
            [
                Some(0.0025),
                Some(250.0),
                Some(10000.0),
                Some(18.0),
                Some(0.0025),
                Some(0.001)
            ]
        );
        let Event::Kline {
            timeframe,
            candle,
            closed,
            ..
        } = &events[4]
        else {
            panic!("{events:?}")
        };
        assert_eq!((*timeframe, candle.turnover, *closed), (Timeframe::M1, 1.0, false));
        assert_eq!(events[5], Event::Closing);
        for bad in [
            "[1,2]",
            r#"{"e":"24hrTicker","s":"X"}"#,
            r#"{"e":"flashCrash","E":1}"#,
            r#"{"e":"kline","E":1,"s":"X"}"#,
        ] {
            assert!(read_message(bad, &mut events).is_err(), "{bad}");
        }
    }

    #[test]
    fn kline_requests_name_binance_s_intervals() {
        assert_eq!(
            Binance.kline_path("ETHUSDT", Timeframe::H1, 31),
            "/api/v3/klines?symbol=ETHUSDT&interval=1h&limit=31"
        );
    }
}
