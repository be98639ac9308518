//! Bybit's stream messages: subscription and heartbeat answers, and a topic's data (a ticker's
//! fields, or candles), each read in one pass into the stream's events.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{change, interval};
use crate::source::dialect::{candle_of_texts, number};
use crate::source::stream::wire::{Event, TickerFields};

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
pub(super) fn read_message<'t>(text: &'t str, events: &mut Vec<Event<'t>>) -> Result<()> {
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
            candle: candle_of_texts(k.start, [&k.open, &k.high, &k.low, &k.close, &k.volume, &k.turnover]),
            closed: k.confirm,
            sent_ms,
        });
    }
    Ok(())
}
