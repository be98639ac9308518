//! The plugin contract as host-side types, generated from `wit/`: the data the stages pass
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
    Analyses, AnalyzerOutput, CacheEntry, History, Market, PluginInfo, Signal, Value, Verdict,
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

/// `market` with at most the last `depth` samples of each symbol's history.
pub fn with_history_depth(market: &Market, depth: usize) -> Market {
    let history = &market.history;
    let mut trimmed = History {
        lengths: Vec::with_capacity(history.lengths.len()),
        price: Vec::new(),
        volume_24h: Vec::new(),
        timestamp_ms: Vec::new(),
    };
    let mut start = 0usize;
    for &len in &history.lengths {
        let len = len as usize;
        let keep = len.min(depth);
        let range = start + len - keep..start + len;
        trimmed.lengths.push(keep as u32);
        trimmed.price.extend_from_slice(&history.price[range.clone()]);
        trimmed.volume_24h.extend_from_slice(&history.volume_24h[range.clone()]);
        trimmed.timestamp_ms.extend_from_slice(&history.timestamp_ms[range]);
        start += len;
    }
    Market {
        history: trimmed,
        ..market.clone()
    }
}
