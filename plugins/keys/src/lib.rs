//! The dashboard keys Pulse writes to memcached: each key's name and the shape of its value,
//! in one place for the writer (the bundled `dashboard` aggregator) and its readers (`pulse
//! verify`, the reference dashboard, the tests). `docs/cache-keys.md` documents the same
//! fields for readers in other languages.
//!
//! The public field names are a contract dashboards depend on; they never change here. Inside
//! the code a quantity is named for what it is: the public `volume_24h` is the 24 h traded
//! value in the quote currency (what exchanges call turnover), so its field here is
//! `quote_volume_24h`. Every value type refuses unknown fields when read, so a renamed field
//! is caught as surely as a missing one (a nullable field must be there too, `null` or not).
//! Each type is generic over its text: the writer borrows (`Overview<&str>`, as cheap as its
//! own structs), readers own (`Overview`, with `String`, deserializes from any buffer). A
//! reader that displays rather than checks (the reference dashboard) may prefer to take any
//! JSON object and show what it finds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The host's own status (cycle, source, plugins, cache totals): written by the daemon, not by
/// a plugin; its fields are in `docs/cache-keys.md`.
pub const STATUS: &str = "pulse:status";
/// The market at a glance: [`Overview`].
pub const OVERVIEW: &str = "market:overview";
/// One [`Ticker`] per symbol: [`Tickers`].
pub const TICKERS: &str = "market:tickers";
/// The largest gainers and losers: [`Movers`].
pub const MOVERS: &str = "market:movers";
/// How many symbols are up, down and flat: [`Breadth`].
pub const BREADTH: &str = "market:breadth";
/// The scored symbols, highest first: [`Signals`].
pub const SIGNALS: &str = "analysis:signals";
/// The market regime as plain text: one of [`REGIMES`].
pub const REGIME: &str = "analysis:market_regime";
/// Followed by a symbol: that symbol's [`Breakdown`].
pub const BREAKDOWN_PREFIX: &str = "analysis:breakdown:";
/// The last hour of one-minute closes of the largest symbols: [`Sparklines`]. Written by
/// dashboard 0.2.0 and later (contract `pulse:plugin@0.2.0`, which has candles).
pub const SPARKLINES: &str = "market:sparklines";

/// The keys of one cycle that do not depend on the symbols.
pub const FIXED_KEYS: [&str; 7] = [OVERVIEW, TICKERS, MOVERS, BREADTH, SIGNALS, REGIME, SPARKLINES];

/// The time frame of [`Sparklines`], as traders write it.
pub const SPARKLINE_TIMEFRAME: &str = "1m";
/// The most closes one [`Sparkline`] holds: an hour of closed one-minute candles and the one
/// forming.
pub const SPARKLINE_POINTS: usize = 61;

/// The prefixes the dashboard writes under: its default grant.
pub const PREFIXES: [&str; 2] = ["market:", "analysis:"];

/// The keys whose value is plain text rather than JSON.
pub const TEXT_KEYS: [&str; 1] = [REGIME];

/// Signal names, from the most bullish to the most bearish.
pub const SIGNAL_NAMES: [&str; 5] = ["STRONG_BUY", "BUY", "NEUTRAL", "SELL", "STRONG_SELL"];

/// Market regimes (in `market:overview`, `analysis:market_regime`) and a signal's sentiment.
pub const REGIMES: [&str; 3] = ["BULLISH", "BEARISH", "NEUTRAL"];

/// Breadth sentiments (`market:breadth`).
pub const BREADTH_SENTIMENTS: [&str; 3] = ["bullish", "bearish", "neutral"];

/// Reads a nullable field that must be present: `null` is `None`, a missing field is an error
/// (serde's default for `Option` would read it as `None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::deserialize(deserializer)
}

/// The key of `symbol`'s breakdown.
pub fn breakdown_key(symbol: &str) -> String {
    format!("{BREAKDOWN_PREFIX}{symbol}")
}

/// `market:overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overview<S = String> {
    /// Symbols analysed this cycle.
    pub total_symbols: usize,
    /// Sum of every symbol's 24 h quote volume.
    #[serde(rename = "total_volume_24h")]
    pub total_quote_volume_24h: f64,
    /// One of [`REGIMES`].
    pub market_regime: S,
    /// 0..100: the larger share of buys or sells among them.
    pub trend_strength: f64,
    /// Mean absolute 24 h change, percent.
    pub current_volatility: f64,
    /// BTC symbols' share of the total quote volume, percent.
    pub btc_dominance: f64,
    /// Mean 24 h change, percent.
    pub average_change_24h: f64,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
    /// The cycle that wrote it.
    pub cycle: u64,
    /// Whether this is the last good snapshot again, the source failing.
    pub stale: bool,
    /// That snapshot's age, ms; 0 when fresh.
    pub snapshot_age_ms: u64,
}

/// One symbol in `market:tickers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticker<S = String> {
    /// Last price, quote currency.
    pub price: f64,
    /// 24 h price change, percent.
    pub change_24h: f64,
    /// 24 h traded value, quote currency.
    #[serde(rename = "volume_24h")]
    pub quote_volume_24h: f64,
    /// 24 h high.
    pub high_24h: f64,
    /// 24 h low.
    pub low_24h: f64,
    /// The blended signal, one of [`SIGNAL_NAMES`].
    pub signal: S,
    /// The blended score 0..100; `None` when no analyzer had an opinion.
    #[serde(deserialize_with = "present")]
    pub score: Option<f64>,
}

/// `market:tickers`: symbol → ticker.
pub type Tickers<S = String> = BTreeMap<S, Ticker<S>>;

/// One gainer or loser in `market:movers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mover<S = String> {
    /// The symbol.
    pub symbol: S,
    /// Last price.
    pub price: f64,
    /// 24 h price change, percent.
    pub change_24h: f64,
    /// 24 h traded value, quote currency.
    #[serde(rename = "volume_24h")]
    pub quote_volume_24h: f64,
}

/// `market:movers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Movers<S = String> {
    /// Positive changes, largest first.
    pub gainers: Vec<Mover<S>>,
    /// Negative changes, most negative first.
    pub losers: Vec<Mover<S>>,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
}

/// `market:breadth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breadth<S = String> {
    /// Symbols up more than the flat threshold.
    pub up_count: usize,
    /// Symbols down more than the flat threshold.
    pub down_count: usize,
    /// The rest.
    pub flat_count: usize,
    /// Ups among ups and downs, percent (50 when there are none).
    pub breadth_percentage: f64,
    /// One of [`BREADTH_SENTIMENTS`].
    pub market_sentiment: S,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
}

/// Each analyzer's components for one symbol: analyzer → component → value.
pub type Components<S = String> = BTreeMap<S, BTreeMap<S, f64>>;

/// One scored symbol in `analysis:signals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct SignalEntry<S = String> {
    /// The symbol.
    pub symbol: S,
    /// The blended score, 0..100.
    pub score: f64,
    /// One of [`SIGNAL_NAMES`].
    pub signal: S,
    /// One of [`REGIMES`]: `BULLISH` at 70 or more, `BEARISH` at 30 or less.
    pub sentiment: S,
    /// Last price.
    pub price: f64,
    /// 24 h price change, percent.
    pub change_24h: f64,
    /// 24 h traded value, quote currency.
    #[serde(rename = "volume_24h")]
    pub quote_volume_24h: f64,
    /// Each analyzer's components.
    pub components: Components<S>,
}

/// `analysis:signals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct Signals<S = String> {
    /// The highest-scored symbols, highest first.
    pub signals: Vec<SignalEntry<S>>,
    /// How many are listed.
    pub count: usize,
    /// How many symbols had a score.
    pub symbols_scored: usize,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
}

/// `market:sparklines`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct Sparklines<S = String> {
    /// [`SPARKLINE_TIMEFRAME`].
    pub timeframe: S,
    /// Per symbol (the largest by turnover), its line.
    pub symbols: BTreeMap<S, Sparkline>,
    /// The cycle that wrote it.
    pub cycle: u64,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
}

/// One symbol's closes, oldest first, for a line beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sparkline {
    /// The first candle's open time, Unix seconds.
    pub start: i64,
    /// The candles' closes, oldest first, one a minute, at most [`SPARKLINE_POINTS`].
    pub closes: Vec<f64>,
    /// Whether the last close is the candle still forming (the last price).
    pub forming: bool,
}

/// One analyzer's verdict in a [`Breakdown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct AnalyzerVerdict<S = String> {
    /// The analyzer's version.
    pub version: S,
    /// Its score; `None` when it had no opinion.
    #[serde(deserialize_with = "present")]
    pub score: Option<f64>,
    /// Its signal, one of [`SIGNAL_NAMES`]; `None` when it had no opinion.
    #[serde(deserialize_with = "present")]
    pub signal: Option<S>,
    /// Its components.
    pub components: BTreeMap<S, f64>,
}

/// `analysis:breakdown:<SYMBOL>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de> + Ord"))]
pub struct Breakdown<S = String> {
    /// The symbol.
    pub symbol: S,
    /// The blended score; `None` when no analyzer had an opinion.
    #[serde(deserialize_with = "present")]
    pub score: Option<f64>,
    /// The blended signal (`NEUTRAL` without an opinion).
    pub signal: S,
    /// Each analyzer's verdict.
    pub analyzers: BTreeMap<S, AnalyzerVerdict<S>>,
    /// The cycle that wrote it.
    pub cycle: u64,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_volume_keeps_its_public_name() {
        let ticker = Ticker {
            price: 2.0,
            change_24h: 1.5,
            quote_volume_24h: 1e6,
            high_24h: 2.1,
            low_24h: 1.9,
            signal: "BUY".to_string(),
            score: Some(65.0),
        };
        let json = serde_json::to_value(&ticker).unwrap();
        assert_eq!(json["volume_24h"], 1e6);
        assert!(json.get("quote_volume_24h").is_none());
        let back: Ticker = serde_json::from_value(json).unwrap();
        assert_eq!(back, ticker);
    }

    #[test]
    fn readers_refuse_unknown_and_missing_fields() {
        let good = r#"{"gainers":[],"losers":[],"timestamp":1}"#;
        serde_json::from_str::<Movers>(good).unwrap();
        let renamed = r#"{"gainers":[],"losers":[],"time":1}"#;
        assert!(serde_json::from_str::<Movers>(renamed).is_err());
        let extra = r#"{"gainers":[],"losers":[],"timestamp":1,"volume":2}"#;
        let err = serde_json::from_str::<Movers>(extra).unwrap_err().to_string();
        assert!(err.contains("unknown field `volume`"), "{err}");
    }

    #[test]
    fn a_null_is_read_but_a_missing_nullable_field_is_refused() {
        let ticker = r#"{"price":2,"change_24h":1,"volume_24h":3,"high_24h":2,"low_24h":1,"signal":"BUY""#;
        let with_null: Ticker = serde_json::from_str(&format!("{ticker},\"score\":null}}")).unwrap();
        assert_eq!(with_null.score, None);
        let err = serde_json::from_str::<Ticker>(&format!("{ticker}}}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `score`"), "{err}");
    }

    #[test]
    fn every_key_is_under_the_dashboards_prefixes() {
        for key in FIXED_KEYS.iter().copied().chain([BREAKDOWN_PREFIX]) {
            assert!(PREFIXES.iter().any(|p| key.starts_with(p)), "{key}");
        }
        assert_eq!(breakdown_key("BTCUSDT"), "analysis:breakdown:BTCUSDT");
        assert!(TEXT_KEYS.iter().all(|k| FIXED_KEYS.contains(k)));
    }
}
