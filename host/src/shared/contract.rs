//! The plugin contract (the current version, `wit/pulse.wit`) as host-side types: the data the stages pass
//! each other (the market, analyzer results, cache entries). The aggregator world reuses the
//! analyzer world's types, so one `Market` value can be handed to both.

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
    Analyses, AnalyzerOutput, CacheEntry, CandleColumns, CandleRequest, Candles, History, Market, PluginInfo, Signal,
    Timeframe, Value, Verdict,
};

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
