//! The plugin contract (the current version, `wit/pulse.wit`) as host-side types: the data the stages pass
//! each other (the market, analyzer results, cache entries). The aggregator world reuses the
//! analyzer world's types, so one `Market` value can be handed to both.
//!
//! The market is the one record the host keeps in a shape of its own ([`Market`]): it holds
//! each symbol's name as a string, which every stage reads, while 0.4.0 hands the names to
//! plugins as one buffer (`shared::market_view` lowers either shape from it).

/// The `analyzer` world and the shared `types` and `host` interfaces.
// Generated from `wit/`, whose comments document each item.
#[allow(missing_docs)]
pub mod analyzer {
    wasmtime::component::bindgen!({
        world: "analyzer",
        path: "../wit",
    });
}

/// The `aggregator` world.
// Generated from `wit/`, whose comments document each item.
#[allow(missing_docs)]
pub mod aggregator {
    wasmtime::component::bindgen!({
        world: "aggregator",
        path: "../wit",
        with: {
            "pulse:plugin/types": super::analyzer::pulse::plugin::types,
            "pulse:plugin/host": super::analyzer::pulse::plugin::host,
        },
    });
}

pub use analyzer::pulse::plugin::host::Level;
pub use analyzer::pulse::plugin::types::{
    Aggregated, Analyses, Analyzed, AnalyzerOutput, CacheEntry, CandleColumns, CandleRequest, Candles, History,
    PluginInfo, Signal, Timeframe, Value, Verdict,
};

/// One cycle's market as the host keeps it: the contract's `market` record, with the symbols'
/// names one string each (the stages look them up by name). Index `i` of every list is
/// `symbols[i]`; the fields are the contract's, documented in `wit/pulse.wit`.
#[derive(Debug, Clone)]
pub struct Market {
    /// Cycle number, counting from 1 at daemon start.
    pub cycle: u64,
    /// Snapshot time, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// 0 for a fresh snapshot; the age of one served again.
    pub snapshot_age_ms: u64,
    /// Name of the source.
    pub source: String,
    /// The symbols, largest 24 h turnover first.
    pub symbols: Vec<String>,
    /// How old each symbol's newest data is, ms (the contract's `data-age-ms`).
    pub data_age_ms: Vec<u64>,
    /// Last traded prices.
    pub price: Vec<f64>,
    /// 24 h changes, in percent.
    pub change_24h: Vec<f64>,
    /// 24 h volumes in base currency.
    pub volume_24h: Vec<f64>,
    /// 24 h turnovers in quote currency.
    pub turnover_24h: Vec<f64>,
    /// 24 h highs.
    pub high_24h: Vec<f64>,
    /// 24 h lows.
    pub low_24h: Vec<f64>,
    /// The cycle's own history, as deep as asked.
    pub history: History,
    /// One entry per candle request, as deep as asked.
    pub candles: Vec<Candles>,
}

/// A signal's name, as in cache values (the names are `pulse_keys::SIGNAL_NAMES`).
pub fn signal_name(signal: Signal) -> &'static str {
    let [strong_buy, buy, neutral, sell, strong_sell] = pulse_keys::SIGNAL_NAMES;
    match signal {
        Signal::StrongBuy => strong_buy,
        Signal::Buy => buy,
        Signal::Neutral => neutral,
        Signal::Sell => sell,
        Signal::StrongSell => strong_sell,
    }
}
