//! What a streaming source needs of one exchange's public WebSocket API: where it is, the
//! topics of a symbol's ticker and candles, how a subscription and a heartbeat are written, how
//! its messages read, and the limits it publishes. Each exchange implements [`Wire`] in its own
//! file (`bybit.rs`, `binance.rs`), beside its REST `Dialect`.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::Result;

use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;

/// One exchange's WebSocket API, as its streaming source speaks it.
pub(in crate::source) trait Wire: Send + Sync {
    /// The public stream endpoint, used unless `--exchange-ws-url` names another base.
    fn default_ws_url(&self) -> &'static str;
    /// The path of the stream endpoint under a base URL (`/v5/public/linear`, `/ws`).
    fn ws_path(&self) -> &'static str;
    /// What the exchange allows, and how often it pushes.
    fn limits(&self) -> Limits;
    /// The topic of `symbol`'s 24 h ticker.
    fn ticker_topic(&self, symbol: &str) -> String;
    /// The topic of `symbol`'s candles of `timeframe`.
    fn kline_topic(&self, symbol: &str, timeframe: Timeframe) -> String;
    /// The request that subscribes to `topics` (or unsubscribes, when `subscribe` is false),
    /// with `id`, which its acknowledgement carries back.
    fn request(&self, subscribe: bool, topics: &[String], id: u64) -> String;
    /// The text of the client's heartbeat, for an exchange that wants one in a message; `None`
    /// when a WebSocket ping frame does.
    fn ping(&self) -> Option<String>;
    /// Reads one text message into `events`; an error when it is not one of the documented
    /// shapes (it is counted and dropped, and the connection goes on).
    fn read<'t>(&self, text: &'t str, events: &mut Vec<Event<'t>>) -> Result<()>;
}

/// The limits an exchange publishes for its public streams, and its push pace.
#[derive(Debug, Clone, Copy)]
pub(in crate::source) struct Limits {
    /// Topics one subscription request may carry.
    pub topics_per_request: usize,
    /// Topics one connection may hold.
    pub topics_per_connection: usize,
    /// Requests (subscriptions and heartbeats) a client may send a connection per second.
    pub requests_per_second: u32,
    /// New connections an address may open per five minutes.
    pub connections_per_5_minutes: u32,
    /// How long the exchange keeps a connection open at most, if it says.
    pub max_connection_age: Option<Duration>,
    /// How often the exchange pushes a changed ticker.
    pub push_interval: Duration,
    /// How often the client must show it is alive, if it must.
    pub heartbeat: Duration,
}

/// What one message said.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::source) enum Event<'t> {
    /// A subscription request was answered: accepted, or refused for `reason`.
    Answer {
        /// The request's id.
        id: u64,
        /// Why it was refused; `None` when it was accepted.
        refused: Option<String>,
    },
    /// The answer to the client's heartbeat.
    Pong,
    /// A symbol's ticker, whole (`snapshot`) or its changed fields only.
    Ticker {
        /// The symbol, borrowed from the message where it can be (one per message, 100,000 a
        /// second at 10,000 symbols).
        symbol: Cow<'t, str>,
        /// Whether it holds every field (a snapshot), else only those that changed (a delta).
        whole: bool,
        /// The fields it carries.
        fields: TickerFields,
        /// When the exchange sent it, Unix ms.
        sent_ms: i64,
    },
    /// A candle of a symbol's time frame, forming or closed.
    Kline {
        /// The symbol.
        symbol: Cow<'t, str>,
        /// Its time frame.
        timeframe: Timeframe,
        /// The candle so far.
        candle: Candle,
        /// Whether the exchange closed it.
        closed: bool,
        /// When the exchange sent it, Unix ms.
        sent_ms: i64,
    },
    /// The exchange says it will close the connection soon (Binance's `serverShutdown`).
    Closing,
}

/// A ticker's fields, each if the message carried it (a number that does not parse is NaN, for
/// the snapshot's checks to refuse, as in a polled answer).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(in crate::source) struct TickerFields(pub [Option<f64>; FIELDS]);

/// How many fields a ticker has: price, 24 h change, volume, turnover, high and low, in that
/// order.
pub(in crate::source) const FIELDS: usize = 6;
