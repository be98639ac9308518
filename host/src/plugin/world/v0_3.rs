//! `pulse:plugin@0.3.0`, still loaded: its worlds bound from `wit/0.3.0`. Its market differs
//! from 0.4.0's only in the symbols (one string each, no data age) and its calls take and
//! return no state, so it is called through a typed function with a record of its own shape
//! ([`MarketRefV3`]) borrowed from the same columns, and its results are the host's types.
//! 0.2.0 (`v0_2.rs`) differs from it only in `describe`, so its calls are these too.

use std::sync::Arc;

use wasmtime::component::{ComponentType, HasSelf, InstancePre, Linker, Lower};
use wasmtime::Store;

use super::typed::{Bound, TypedPre};
use super::{AggregatorInstance, AnalyzerInstance, Contract, Instance, PluginKind, Role, WorldPre};
use crate::plugin::state::HostState;
use crate::shared::contract as now;
use crate::shared::market_view::{CallMarket, CandlesRef, HistoryRef};

/// The `analyzer` world of 0.3.0 and its `types` and `host` interfaces.
// Generated from `wit/0.3.0`, whose comments document each item.
#[allow(missing_docs)]
mod analyzer {
    wasmtime::component::bindgen!({
        world: "analyzer",
        path: "../wit/0.3.0",
    });
}

/// The `aggregator` world of 0.3.0.
// Generated from `wit/0.3.0`, whose comments document each item.
#[allow(missing_docs)]
mod aggregator {
    wasmtime::component::bindgen!({
        world: "aggregator",
        path: "../wit/0.3.0",
        with: {
            "pulse:plugin/types": super::analyzer::pulse::plugin::types,
            "pulse:plugin/host": super::analyzer::pulse::plugin::host,
        },
    });
}

use analyzer::pulse::plugin::{host, types as old};

/// The 0.3.0 `market` record, borrowed: 0.4.0's without the data age, the symbols one string
/// each.
#[derive(ComponentType, Lower, Debug)]
#[component(record)]
struct MarketRefV3<'a> {
    cycle: u64,
    #[component(name = "timestamp-ms")]
    timestamp_ms: i64,
    #[component(name = "snapshot-age-ms")]
    snapshot_age_ms: u64,
    source: &'a str,
    symbols: &'a [String],
    price: &'a [f64],
    #[component(name = "change-24h")]
    change_24h: &'a [f64],
    #[component(name = "volume-24h")]
    volume_24h: &'a [f64],
    #[component(name = "turnover-24h")]
    turnover_24h: &'a [f64],
    #[component(name = "high-24h")]
    high_24h: &'a [f64],
    #[component(name = "low-24h")]
    low_24h: &'a [f64],
    history: HistoryRef<'a>,
    candles: &'a [CandlesRef<'a>],
}

impl<'a> From<&'a CallMarket<'a>> for MarketRefV3<'a> {
    fn from(market: &'a CallMarket<'a>) -> Self {
        let m = &market.record;
        Self {
            cycle: m.cycle,
            timestamp_ms: m.timestamp_ms,
            snapshot_age_ms: m.snapshot_age_ms,
            source: m.source,
            symbols: market.symbols,
            price: m.price,
            change_24h: m.change_24h,
            volume_24h: m.volume_24h,
            turnover_24h: m.turnover_24h,
            high_24h: m.high_24h,
            low_24h: m.low_24h,
            history: m.history,
            candles: &m.candles,
        }
    }
}

/// Adds the 0.3.0 host interface to the linker.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// The component as a 0.3.0 plugin of `role`, if its exports match that world.
pub(super) fn bind(role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
    Ok(match role {
        Role::Analyzer => PluginKind::Analyzer(Arc::new(TypedPre::new(
            Contract::V0_3,
            analyzer::AnalyzerIndices::new(&pre)?,
            pre,
            "analyze",
        )?)),
        Role::Aggregator => PluginKind::Aggregator(Arc::new(TypedPre::new(
            Contract::V0_3,
            aggregator::AggregatorIndices::new(&pre)?,
            pre,
            "aggregate",
        )?)),
    })
}

impl host::Host for HostState {
    /// The same log as the current contract's.
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Debug => now::Level::Debug,
            host::Level::Info => now::Level::Info,
            host::Level::Warn => now::Level::Warn,
            host::Level::Error => now::Level::Error,
        };
        now::analyzer::pulse::plugin::host::Host::log(self, level, message);
    }
}

/// The bindings of an analyzer world whose `analyze` takes the 0.3.0 market and keeps no
/// state: 0.3.0's and 0.2.0's.
pub(super) trait AnalyzerV3: Send + Sync {}

/// The bindings of an aggregator world whose `aggregate` takes the 0.3.0 market and keeps no
/// state: 0.3.0's and 0.2.0's.
pub(super) trait AggregatorV3: Send + Sync {}

impl AnalyzerV3 for analyzer::Analyzer {}
impl AggregatorV3 for aggregator::Aggregator {}

impl<B: AnalyzerV3> AnalyzerInstance for Bound<B>
where
    Self: Instance,
{
    fn analyze(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        _state: &[u8],
    ) -> wasmtime::Result<Result<now::Analyzed, String>> {
        let (analyses,) =
            self.call::<(&MarketRefV3,), (Result<now::Analyses, String>,)>(store, (&MarketRefV3::from(market),))?;
        Ok(analyses.map(|analyses| now::Analyzed {
            analyses,
            state: Vec::new(),
        }))
    }
}

impl<B: AggregatorV3> AggregatorInstance for Bound<B>
where
    Self: Instance,
{
    fn aggregate(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        results: &[now::AnalyzerOutput],
        _state: &[u8],
    ) -> wasmtime::Result<Result<now::Aggregated, String>> {
        let (entries,) = self.call::<(&MarketRefV3, &[now::AnalyzerOutput]), (Result<Vec<now::CacheEntry>, String>,)>(
            store,
            (&MarketRefV3::from(market), results),
        )?;
        Ok(entries.map(|entries| now::Aggregated {
            entries,
            state: Vec::new(),
        }))
    }
}

impl WorldPre<dyn AnalyzerInstance> for TypedPre<analyzer::AnalyzerIndices> {
    fn contract(&self) -> Contract {
        TypedPre::contract(self)
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AnalyzerInstance>> {
        Ok(Box::new(self.bound(store, |i, s, instance| i.load(s, instance))?))
    }
}

impl WorldPre<dyn AggregatorInstance> for TypedPre<aggregator::AggregatorIndices> {
    fn contract(&self) -> Contract {
        TypedPre::contract(self)
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AggregatorInstance>> {
        Ok(Box::new(self.bound(store, |i, s, instance| i.load(s, instance))?))
    }
}

impl Instance for Bound<analyzer::Analyzer> {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<now::PluginInfo> {
        Ok(info(self.bindings.call_describe(store)?))
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.bindings.call_init(store, config)
    }
}

impl Instance for Bound<aggregator::Aggregator> {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<now::PluginInfo> {
        Ok(info(self.bindings.call_describe(store)?))
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.bindings.call_init(store, config)
    }
}

/// What a 0.3.0 `describe()` says, as 0.4.0 says it: no state.
fn info(info: old::PluginInfo) -> now::PluginInfo {
    now::PluginInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        history_depth: info.history_depth,
        candles: info
            .candles
            .into_iter()
            .map(|r| now::CandleRequest {
                timeframe: timeframe(r.timeframe),
                depth: r.depth,
                top: r.top,
                columns: columns(r.columns),
            })
            .collect(),
        key_prefixes: info.key_prefixes,
        max_state_bytes: 0,
        state_format: String::new(),
    }
}

/// 0.3.0's candle columns as 0.4.0 names them.
fn columns(old: old::CandleColumns) -> now::CandleColumns {
    [
        (old::CandleColumns::START_MS, now::CandleColumns::START_MS),
        (old::CandleColumns::OPEN, now::CandleColumns::OPEN),
        (old::CandleColumns::HIGH, now::CandleColumns::HIGH),
        (old::CandleColumns::LOW, now::CandleColumns::LOW),
        (old::CandleColumns::CLOSE, now::CandleColumns::CLOSE),
        (old::CandleColumns::VOLUME, now::CandleColumns::VOLUME),
        (old::CandleColumns::TURNOVER, now::CandleColumns::TURNOVER),
    ]
    .into_iter()
    .filter(|(then, _)| old.contains(*then))
    .fold(now::CandleColumns::empty(), |all, (_, column)| all | column)
}

/// A 0.3.0 time frame as 0.4.0 names it (0.2.0 names them the same way).
fn timeframe(timeframe: old::Timeframe) -> now::Timeframe {
    match timeframe {
        old::Timeframe::M1 => now::Timeframe::M1,
        old::Timeframe::M5 => now::Timeframe::M5,
        old::Timeframe::M15 => now::Timeframe::M15,
        old::Timeframe::H1 => now::Timeframe::H1,
        old::Timeframe::H4 => now::Timeframe::H4,
        old::Timeframe::D1 => now::Timeframe::D1,
    }
}
