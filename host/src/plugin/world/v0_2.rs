//! `pulse:plugin@0.2.0`, still loaded: its worlds bound from `wit/0.2.0`. Its market and
//! results are 0.3.0's (only `candle-request` gained `columns`), so a 0.2.0 plugin is called
//! exactly as a 0.3.0 one (`v0_3.rs`); its `describe()` is read with 0.2.0's types, and each of
//! its candle requests is handed every column, as before 0.3.0.

use std::sync::Arc;

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Store;

use super::typed::{Bound, TypedPre};
use super::v0_3::{AggregatorV3, AnalyzerV3};
use super::{AggregatorInstance, AnalyzerInstance, Contract, Instance, PluginKind, Role, WorldPre};
use crate::plugin::state::HostState;
use crate::shared::contract as now;

/// The `analyzer` world of 0.2.0 and its `types` and `host` interfaces.
// Generated from `wit/0.2.0`, whose comments document each item.
#[allow(missing_docs)]
mod analyzer {
    wasmtime::component::bindgen!({
        world: "analyzer",
        path: "../wit/0.2.0",
    });
}

/// The `aggregator` world of 0.2.0.
// Generated from `wit/0.2.0`, whose comments document each item.
#[allow(missing_docs)]
mod aggregator {
    wasmtime::component::bindgen!({
        world: "aggregator",
        path: "../wit/0.2.0",
        with: {
            "pulse:plugin/types": super::analyzer::pulse::plugin::types,
            "pulse:plugin/host": super::analyzer::pulse::plugin::host,
        },
    });
}

use analyzer::pulse::plugin::{host, types as old};

/// Adds the 0.2.0 host interface to the linker.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// The component as a 0.2.0 plugin of `role`, if its exports match that world.
pub(super) fn bind(role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
    Ok(match role {
        Role::Analyzer => PluginKind::Analyzer(Arc::new(TypedPre::new(
            Contract::V0_2,
            analyzer::AnalyzerIndices::new(&pre)?,
            pre,
            "analyze",
        )?)),
        Role::Aggregator => PluginKind::Aggregator(Arc::new(TypedPre::new(
            Contract::V0_2,
            aggregator::AggregatorIndices::new(&pre)?,
            pre,
            "aggregate",
        )?)),
    })
}

impl host::Host for HostState {
    /// The same log as 0.3.0's.
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

impl AnalyzerV3 for analyzer::Analyzer {}
impl AggregatorV3 for aggregator::Aggregator {}

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

/// What a 0.2.0 `describe()` says, as 0.4.0 says it: every column of each candle request, no
/// state.
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
                columns: now::CandleColumns::all(),
            })
            .collect(),
        key_prefixes: info.key_prefixes,
        max_state_bytes: 0,
        state_format: String::new(),
    }
}

/// A 0.2.0 time frame as 0.4.0 names it.
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
