//! The config's smaller tables: `[cache]`, `[simulated]` and `[market]`.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConnectionAge, Count, Millis, ReplayEnd, Seconds, Speed};

/// Cache write settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Write every key to every server (any replica can answer) instead of spreading keys by
    /// rendezvous hashing.
    pub mirror: bool,
    /// How long a cycle waits for its writes, in milliseconds; default half the interval.
    pub write_deadline_ms: Option<Millis>,
}

/// Settings of the simulated market.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedConfig {
    /// The same seed gives the same market, cycle after cycle.
    pub seed: u64,
    /// Standard deviation of a symbol's log return per cycle (0.0015 is 0.15 %).
    pub volatility: f64,
    /// Largest steady drift of a symbol's log return per cycle; each symbol draws its own.
    pub drift: f64,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            volatility: 0.0015,
            drift: 0.0003,
        }
    }
}

/// Symbol selection, replay and recording, exchange access and staleness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// Only symbols quoted in this currency (a symbol suffix); empty for any.
    pub quote: String,
    /// If not empty, only these symbols.
    pub include: Vec<String>,
    /// Never these symbols.
    pub exclude: Vec<String>,
    /// What a replay does at the end of its file.
    pub replay_end: ReplayEnd,
    /// Replay this many times faster than the interval (cycles every `interval / speed`).
    pub speed: Speed,
    /// Record every snapshot to this JSON Lines file.
    pub record: Option<PathBuf>,
    /// Base URL of the exchange API (a mirror, or a test server).
    pub exchange_url: Option<String>,
    /// Whether an exchange source streams its tickers and candles over WebSocket (REST then
    /// gives the first snapshot, resyncs, reconciliations and backfills); false polls REST
    /// every cycle.
    pub stream: bool,
    /// Base URL of the exchange's streams (a mirror, or a test server); needed with
    /// `exchange_url` while streaming, so the two never point at different exchanges.
    pub exchange_ws_url: Option<String>,
    /// Seconds between reconciliations of the streams with a REST answer, which finds and
    /// corrects what a silently lost message left wrong (at least 5).
    pub reconcile_every: Seconds,
    /// Seconds after which a stream connection is replaced, its successor subscribed and
    /// delivering before it closes; default 10 minutes before the exchange's maximum age
    /// (Binance 24 h; Bybit states none, so never).
    pub stream_rotate_after: Option<ConnectionAge>,
    /// How long one poll of the source may take, in milliseconds: an exchange request, or
    /// reading a recording's next line; default half the interval, at most 5 s. A poll that
    /// takes longer fails, and the cycle serves the last good snapshot.
    pub request_timeout_ms: Option<Millis>,
    /// Age in seconds past which a snapshot is too stale to serve: market keys are no longer
    /// written and expire.
    pub max_age: Seconds,
    /// Kline requests an exchange source starts per second, at most; default half the
    /// exchange's published limit (Bybit 60, Binance 25); more than 1,000 counts as 1,000.
    pub kline_requests_per_second: Option<Count>,
    /// Kline requests in flight at once, at most.
    pub kline_in_flight: Count,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            quote: "USDT".to_string(),
            include: Vec::new(),
            exclude: Vec::new(),
            replay_end: ReplayEnd::Loop,
            speed: Speed(1.0),
            record: None,
            exchange_url: None,
            stream: true,
            exchange_ws_url: None,
            reconcile_every: Seconds(60),
            stream_rotate_after: None,
            request_timeout_ms: None,
            max_age: Seconds(30),
            kline_requests_per_second: None,
            kline_in_flight: Count(4),
        }
    }
}
