//! The guest SDK for Pulse plugins.
//!
//! A plugin is a type implementing [`Analyzer`] or [`Aggregator`], exported with
//! [`analyzer!`] or [`aggregator!`]. The SDK owns the WIT bindings, parses the plugin's
//! config once per instance, and gives typed views of the column-wise market data, so a
//! plugin's crate holds its logic and little else.
//!
//! A plugin that remembers something from one cycle to the next implements
//! [`StatefulAnalyzer`] or [`StatefulAggregator`] instead: its state is a struct of its own,
//! which the SDK encodes (as JSON) into the bytes the host keeps, and hands back decoded on the
//! next call. Exported with the same macros.
//!
//! ```text
//! struct Momentum;
//! impl pulse_sdk::Analyzer for Momentum {
//!     type Config = MyConfig;
//!     fn describe() -> pulse_sdk::PluginInfo { pulse_sdk::plugin_info("momentum", env!("CARGO_PKG_VERSION"), "...", 30) }
//!     fn analyze(market: &pulse_sdk::MarketView, config: &MyConfig) -> Result<pulse_sdk::Analyses, String> { ... }
//! }
//! pulse_sdk::analyzer!(Momentum);
//! ```

mod analyses;
mod held;
pub mod indicators;
mod log;
mod market;
pub mod math;
mod output;
pub mod testing;

pub use analyses::{verdict, AnalysesBuilder};
pub use bindings::analyzer::pulse::plugin::types::{
    Aggregated, Analyses, Analyzed, AnalyzerOutput, CacheEntry, CandleColumns, CandleRequest, Candles, History, Market,
    PluginInfo, Signal, SymbolNames, Timeframe, Value, Verdict,
};
pub use held::{held_verdict, HeldSignals};
pub use log::{debug, error, info, warn};
pub use market::{CandleSeries, MarketView, Series};
pub use output::ComponentsView;

/// The generated WIT bindings. Plugins use the re-exports above instead.
#[doc(hidden)]
pub mod bindings {
    /// Bindings of the `analyzer` world; its types are shared with the aggregator's.
    pub mod analyzer {
        wit_bindgen::generate!({
            world: "analyzer",
            path: "wit",
            pub_export_macro: true,
            export_macro_name: "export_analyzer_world",
            default_bindings_module: "pulse_sdk::bindings::analyzer",
        });
    }
    /// Bindings of the `aggregator` world, reusing the analyzer's types.
    pub mod aggregator {
        wit_bindgen::generate!({
            world: "aggregator",
            path: "wit",
            pub_export_macro: true,
            export_macro_name: "export_aggregator_world",
            default_bindings_module: "pulse_sdk::bindings::aggregator",
            with: {
                "pulse:plugin/types@0.4.0": crate::bindings::analyzer::pulse::plugin::types,
                "pulse:plugin/host@0.4.0": crate::bindings::analyzer::pulse::plugin::host,
            },
        });
    }
}

/// A plugin that scores every symbol each cycle.
pub trait Analyzer {
    /// The plugin's config table from the daemon's config file. Unknown or mistyped fields
    /// fail `init`, which the daemon reports with the plugin's name.
    type Config: serde::de::DeserializeOwned + Default;
    /// Name, version, and the history depth and candles the plugin needs.
    fn describe() -> PluginInfo;
    /// Scores the market: one entry per symbol, in the market's order.
    fn analyze(market: &MarketView, config: &Self::Config) -> Result<Analyses, String>;
}

/// A plugin that turns the market and the analyzers' results into cache entries.
pub trait Aggregator {
    /// The plugin's config table from the daemon's config file.
    type Config: serde::de::DeserializeOwned + Default;
    /// Name, version and the key prefixes the plugin writes.
    fn describe() -> PluginInfo;
    /// Builds this cycle's cache entries; the host validates and writes them.
    fn aggregate(
        market: &MarketView,
        results: &[AnalyzerOutput],
        config: &Self::Config,
    ) -> Result<Vec<CacheEntry>, String>;
}

/// An analyzer that keeps state between calls: [`Analyzer`] with a `State` it reads and
/// updates on every call. The host hands each call what the last one left (the type's
/// `Default` on the first call, or when the version starts afresh) and keeps the new state
/// only if the call succeeds. Declare its bound and format in `describe()`
/// ([`PluginInfo::max_state_bytes`], [`PluginInfo::state_format`]); `docs/plugin-contract.md`
/// says which version's state a new version starts from.
pub trait StatefulAnalyzer {
    /// The plugin's config table, as for [`Analyzer::Config`].
    type Config: serde::de::DeserializeOwned + Default;
    /// What it remembers. Encoded as JSON: rename its format in `describe()` whenever a new
    /// version could not read what an older one wrote.
    type State: serde::Serialize + serde::de::DeserializeOwned + Default;
    /// Name, version, needs, and the state's bound and format.
    fn describe() -> PluginInfo;
    /// Scores the market as [`Analyzer::analyze`] does, reading and updating `state`.
    fn analyze(market: &MarketView, config: &Self::Config, state: &mut Self::State) -> Result<Analyses, String>;
    /// The state from the bytes the host kept; empty bytes are a first call.
    fn decode_state(bytes: &[u8]) -> Result<Self::State, String> {
        decode_state(bytes)
    }
    /// The bytes the host keeps for the next call.
    fn encode_state(state: &Self::State) -> Result<Vec<u8>, String> {
        encode_state(state)
    }
}

/// An aggregator that keeps state between calls, as [`StatefulAnalyzer`] is an analyzer that
/// does.
pub trait StatefulAggregator {
    /// The plugin's config table.
    type Config: serde::de::DeserializeOwned + Default;
    /// What it remembers, encoded as JSON.
    type State: serde::Serialize + serde::de::DeserializeOwned + Default;
    /// Name, version, key prefixes, and the state's bound and format.
    fn describe() -> PluginInfo;
    /// Builds this cycle's cache entries, reading and updating `state`.
    fn aggregate(
        market: &MarketView,
        results: &[AnalyzerOutput],
        config: &Self::Config,
        state: &mut Self::State,
    ) -> Result<Vec<CacheEntry>, String>;
    /// The state from the bytes the host kept; empty bytes are a first call.
    fn decode_state(bytes: &[u8]) -> Result<Self::State, String> {
        decode_state(bytes)
    }
    /// The bytes the host keeps for the next call.
    fn encode_state(state: &Self::State) -> Result<Vec<u8>, String> {
        encode_state(state)
    }
}

/// Every [`Analyzer`] is a stateful one whose state is nothing, and encodes to no bytes.
impl<T: Analyzer> StatefulAnalyzer for T {
    type Config = T::Config;
    type State = ();
    fn describe() -> PluginInfo {
        T::describe()
    }
    fn analyze(market: &MarketView, config: &T::Config, _: &mut ()) -> Result<Analyses, String> {
        T::analyze(market, config)
    }
    fn decode_state(_: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn encode_state(_: &()) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

/// Every [`Aggregator`] is a stateful one whose state is nothing, and encodes to no bytes.
impl<T: Aggregator> StatefulAggregator for T {
    type Config = T::Config;
    type State = ();
    fn describe() -> PluginInfo {
        T::describe()
    }
    fn aggregate(
        market: &MarketView,
        results: &[AnalyzerOutput],
        config: &T::Config,
        _: &mut (),
    ) -> Result<Vec<CacheEntry>, String> {
        T::aggregate(market, results, config)
    }
    fn decode_state(_: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn encode_state(_: &()) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

/// A state decoded from the JSON a previous call encoded; empty bytes give the default.
pub fn decode_state<S: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<S, String> {
    if bytes.is_empty() {
        return Ok(S::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "cannot read the state handed over ({} bytes): {e}; a version that cannot read an older one's state must name another state-format",
            bytes.len()
        )
    })
}

/// A state encoded as JSON.
pub fn encode_state<S: serde::Serialize>(state: &S) -> Result<Vec<u8>, String> {
    serde_json::to_vec(state).map_err(|e| format!("cannot encode the state: {e}"))
}

/// The config of a plugin that takes none: any table is rejected, so a typo cannot pass
/// silently.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Builds a [`PluginInfo`] for an analyzer (no cache keys, no candles); add candles with
/// struct update syntax:
///
/// ```text
/// PluginInfo { candles: vec![candles(Timeframe::M1, 60)], ..plugin_info("trend", "1.0.0", "...", 0) }
/// ```
pub fn plugin_info(name: &str, version: &str, description: &str, history_depth: u32) -> PluginInfo {
    PluginInfo {
        name: name.to_string(),
        version: version.to_string(),
        description: description.to_string(),
        history_depth,
        candles: Vec::new(),
        key_prefixes: Vec::new(),
        max_state_bytes: 0,
        state_format: String::new(),
    }
}

/// A request for `depth` closed candles of `timeframe` for every symbol (the forming candle
/// comes on top), every column, for [`PluginInfo::candles`]. Struct update syntax narrows it:
/// `CandleRequest { columns: CandleColumns::CLOSE, ..candles(..) }` is handed the closes only
/// (each column costs a copy on every call), `CandleRequest { top: 30, ..candles(..) }` the 30
/// largest symbols only.
pub fn candles(timeframe: Timeframe, depth: u32) -> CandleRequest {
    CandleRequest {
        timeframe,
        depth,
        top: 0,
        columns: CandleColumns::all(),
    }
}

/// Parses a plugin's JSON config into its typed form; `init` uses it.
#[doc(hidden)]
pub fn parse_config<C: serde::de::DeserializeOwned>(json: &str) -> Result<C, String> {
    serde_json::from_str(json).map_err(|e| format!("bad plugin config: {e}"))
}

/// Exports a type implementing [`Analyzer`] or [`StatefulAnalyzer`] as this component's
/// `analyzer` world.
#[macro_export]
macro_rules! analyzer {
    ($plugin:ty) => {
        static __PULSE_CONFIG: ::std::sync::OnceLock<<$plugin as $crate::StatefulAnalyzer>::Config> =
            ::std::sync::OnceLock::new();

        struct __PulseAnalyzer;

        impl $crate::bindings::analyzer::Guest for __PulseAnalyzer {
            fn describe() -> $crate::PluginInfo {
                <$plugin as $crate::StatefulAnalyzer>::describe()
            }
            fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                let parsed = $crate::parse_config(&config)?;
                let _ = __PULSE_CONFIG.set(parsed);
                Ok(())
            }
            fn analyze(
                market: $crate::Market,
                state: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<$crate::Analyzed, ::std::string::String> {
                type P = $plugin;
                let view = $crate::MarketView::new(market);
                let mut state = <P as $crate::StatefulAnalyzer>::decode_state(&state)?;
                let config = __PULSE_CONFIG.get_or_init(Default::default);
                let analyses = <P as $crate::StatefulAnalyzer>::analyze(&view, config, &mut state)?;
                let state = <P as $crate::StatefulAnalyzer>::encode_state(&state)?;
                Ok($crate::Analyzed { analyses, state })
            }
        }

        $crate::bindings::analyzer::export_analyzer_world!(__PulseAnalyzer with_types_in $crate::bindings::analyzer);
    };
}

/// Exports a type implementing [`Aggregator`] or [`StatefulAggregator`] as this component's
/// `aggregator` world.
#[macro_export]
macro_rules! aggregator {
    ($plugin:ty) => {
        static __PULSE_CONFIG: ::std::sync::OnceLock<<$plugin as $crate::StatefulAggregator>::Config> =
            ::std::sync::OnceLock::new();

        struct __PulseAggregator;

        impl $crate::bindings::aggregator::Guest for __PulseAggregator {
            fn describe() -> $crate::PluginInfo {
                <$plugin as $crate::StatefulAggregator>::describe()
            }
            fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                let parsed = $crate::parse_config(&config)?;
                let _ = __PULSE_CONFIG.set(parsed);
                Ok(())
            }
            fn aggregate(
                market: $crate::Market,
                results: ::std::vec::Vec<$crate::AnalyzerOutput>,
                state: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<$crate::Aggregated, ::std::string::String> {
                type P = $plugin;
                let view = $crate::MarketView::new(market);
                let mut state = <P as $crate::StatefulAggregator>::decode_state(&state)?;
                let config = __PULSE_CONFIG.get_or_init(Default::default);
                let entries = <P as $crate::StatefulAggregator>::aggregate(&view, &results, config, &mut state)?;
                let state = <P as $crate::StatefulAggregator>::encode_state(&state)?;
                Ok($crate::Aggregated { entries, state })
            }
        }

        $crate::bindings::aggregator::export_aggregator_world!(__PulseAggregator with_types_in $crate::bindings::aggregator);
    };
}
