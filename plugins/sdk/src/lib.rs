//! The guest SDK for Pulse plugins.
//!
//! A plugin is a type implementing [`Analyzer`] or [`Aggregator`], exported with
//! [`analyzer!`] or [`aggregator!`]. The SDK owns the WIT bindings, parses the plugin's
//! config once per instance, and gives typed views of the column-wise market data, so a
//! plugin's crate holds its logic and little else.
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
pub mod indicators;
mod log;
mod market;
mod output;
pub mod testing;

pub use analyses::{verdict, AnalysesBuilder};
pub use bindings::analyzer::pulse::plugin::types::{
    Analyses, AnalyzerOutput, CacheEntry, CandleColumns, CandleRequest, Candles, History, Market, PluginInfo, Signal,
    Timeframe, Value, Verdict,
};
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
            path: "../../wit",
            pub_export_macro: true,
            export_macro_name: "export_analyzer_world",
            default_bindings_module: "pulse_sdk::bindings::analyzer",
        });
    }
    /// Bindings of the `aggregator` world, reusing the analyzer's types.
    pub mod aggregator {
        wit_bindgen::generate!({
            world: "aggregator",
            path: "../../wit",
            pub_export_macro: true,
            export_macro_name: "export_aggregator_world",
            default_bindings_module: "pulse_sdk::bindings::aggregator",
            with: {
                "pulse:plugin/types@0.3.0": crate::bindings::analyzer::pulse::plugin::types,
                "pulse:plugin/host@0.3.0": crate::bindings::analyzer::pulse::plugin::host,
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

/// Exports a type implementing [`Analyzer`] as this component's `analyzer` world.
#[macro_export]
macro_rules! analyzer {
    ($plugin:ty) => {
        static __PULSE_CONFIG: ::std::sync::OnceLock<<$plugin as $crate::Analyzer>::Config> =
            ::std::sync::OnceLock::new();

        struct __PulseAnalyzer;

        impl $crate::bindings::analyzer::Guest for __PulseAnalyzer {
            fn describe() -> $crate::PluginInfo {
                <$plugin as $crate::Analyzer>::describe()
            }
            fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                let parsed = $crate::parse_config(&config)?;
                let _ = __PULSE_CONFIG.set(parsed);
                Ok(())
            }
            fn analyze(market: $crate::Market) -> ::std::result::Result<$crate::Analyses, ::std::string::String> {
                let view = $crate::MarketView::new(market);
                <$plugin as $crate::Analyzer>::analyze(&view, __PULSE_CONFIG.get_or_init(Default::default))
            }
        }

        $crate::bindings::analyzer::export_analyzer_world!(__PulseAnalyzer with_types_in $crate::bindings::analyzer);
    };
}

/// Exports a type implementing [`Aggregator`] as this component's `aggregator` world.
#[macro_export]
macro_rules! aggregator {
    ($plugin:ty) => {
        static __PULSE_CONFIG: ::std::sync::OnceLock<<$plugin as $crate::Aggregator>::Config> =
            ::std::sync::OnceLock::new();

        struct __PulseAggregator;

        impl $crate::bindings::aggregator::Guest for __PulseAggregator {
            fn describe() -> $crate::PluginInfo {
                <$plugin as $crate::Aggregator>::describe()
            }
            fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                let parsed = $crate::parse_config(&config)?;
                let _ = __PULSE_CONFIG.set(parsed);
                Ok(())
            }
            fn aggregate(
                market: $crate::Market,
                results: ::std::vec::Vec<$crate::AnalyzerOutput>,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::CacheEntry>, ::std::string::String> {
                let view = $crate::MarketView::new(market);
                <$plugin as $crate::Aggregator>::aggregate(&view, &results, __PULSE_CONFIG.get_or_init(Default::default))
            }
        }

        $crate::bindings::aggregator::export_aggregator_world!(__PulseAggregator with_types_in $crate::bindings::aggregator);
    };
}
