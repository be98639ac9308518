//! `pulse:plugin@0.4.0`, the current contract: its worlds, whose types are the host's own, so
//! a call hands them over as they are; the market goes in as a borrowed view
//! ([`MarketRef`]), lowered straight from the host's columns with the symbols' names as one
//! buffer, and the version's state beside it.

use std::sync::Arc;

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Store;

use super::typed::{Bound, TypedPre};
use super::{AggregatorInstance, AnalyzerInstance, Contract, Instance, PluginKind, Role, WorldPre};
use crate::plugin::state::HostState;
use crate::shared::contract::aggregator::{Aggregator, AggregatorIndices};
use crate::shared::contract::analyzer::pulse::plugin::host;
use crate::shared::contract::analyzer::{Analyzer, AnalyzerIndices};
use crate::shared::contract::{Aggregated, Analyzed, AnalyzerOutput, PluginInfo};
use crate::shared::market_view::{CallMarket, MarketRef};

/// Adds the 0.4.0 host interface to the linker.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// The component as a 0.4.0 plugin of `role`, if its exports match that world.
pub(super) fn bind(role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
    Ok(match role {
        Role::Analyzer => PluginKind::Analyzer(Arc::new(TypedPre::new(
            Contract::V0_4,
            AnalyzerIndices::new(&pre)?,
            pre,
            "analyze",
        )?)),
        Role::Aggregator => PluginKind::Aggregator(Arc::new(TypedPre::new(
            Contract::V0_4,
            AggregatorIndices::new(&pre)?,
            pre,
            "aggregate",
        )?)),
    })
}

impl WorldPre<dyn AnalyzerInstance> for TypedPre<AnalyzerIndices> {
    fn contract(&self) -> Contract {
        TypedPre::contract(self)
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AnalyzerInstance>> {
        Ok(Box::new(self.bound(store, |i, s, instance| i.load(s, instance))?))
    }
}

impl WorldPre<dyn AggregatorInstance> for TypedPre<AggregatorIndices> {
    fn contract(&self) -> Contract {
        TypedPre::contract(self)
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AggregatorInstance>> {
        Ok(Box::new(self.bound(store, |i, s, instance| i.load(s, instance))?))
    }
}

impl Instance for Bound<Analyzer> {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        self.bindings.call_describe(store)
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.bindings.call_init(store, config)
    }
}

impl AnalyzerInstance for Bound<Analyzer> {
    fn analyze(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        state: &[u8],
    ) -> wasmtime::Result<Result<Analyzed, String>> {
        let (analyzed,) =
            self.call::<(&MarketRef, &[u8]), (Result<Analyzed, String>,)>(store, (&market.record, state))?;
        Ok(analyzed)
    }
}

impl Instance for Bound<Aggregator> {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        self.bindings.call_describe(store)
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.bindings.call_init(store, config)
    }
}

impl AggregatorInstance for Bound<Aggregator> {
    fn aggregate(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        results: &[AnalyzerOutput],
        state: &[u8],
    ) -> wasmtime::Result<Result<Aggregated, String>> {
        let (aggregated,) = self.call::<(&MarketRef, &[AnalyzerOutput], &[u8]), (Result<Aggregated, String>,)>(
            store,
            (&market.record, results, state),
        )?;
        Ok(aggregated)
    }
}
