//! `pulse:plugin@0.2.0`, the current contract: its worlds, whose types are the host's own, so
//! a call hands them over as they are.

use std::sync::Arc;

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Store;

use super::{AggregatorInstance, AnalyzerInstance, Contract, Instance, PluginKind, Role, WorldPre};
use crate::plugin::state::HostState;
use crate::shared::contract::aggregator::{Aggregator, AggregatorPre};
use crate::shared::contract::analyzer::pulse::plugin::host;
use crate::shared::contract::analyzer::{Analyzer, AnalyzerPre};
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry, Market, PluginInfo};

/// Adds the 0.2.0 host interface to the linker.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// The component as a 0.2.0 plugin of `role`, if its exports match that world.
pub(super) fn bind(role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
    Ok(match role {
        Role::Analyzer => PluginKind::Analyzer(Arc::new(AnalyzerPre::new(pre)?)),
        Role::Aggregator => PluginKind::Aggregator(Arc::new(AggregatorPre::new(pre)?)),
    })
}

impl WorldPre<dyn AnalyzerInstance> for AnalyzerPre<HostState> {
    fn contract(&self) -> Contract {
        Contract::V0_2
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AnalyzerInstance>> {
        Ok(Box::new(AnalyzerPre::instantiate(self, store)?))
    }
}

impl WorldPre<dyn AggregatorInstance> for AggregatorPre<HostState> {
    fn contract(&self) -> Contract {
        Contract::V0_2
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AggregatorInstance>> {
        Ok(Box::new(AggregatorPre::instantiate(self, store)?))
    }
}

impl Instance for Analyzer {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        self.call_describe(store)
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.call_init(store, config)
    }
}

impl AnalyzerInstance for Analyzer {
    fn analyze(&self, store: &mut Store<HostState>, market: &Market) -> wasmtime::Result<Result<Analyses, String>> {
        self.call_analyze(store, market)
    }
}

impl Instance for Aggregator {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        self.call_describe(store)
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.call_init(store, config)
    }
}

impl AggregatorInstance for Aggregator {
    fn aggregate(
        &self,
        store: &mut Store<HostState>,
        market: &Market,
        results: &[AnalyzerOutput],
    ) -> wasmtime::Result<Result<Vec<CacheEntry>, String>> {
        self.call_aggregate(store, market, results)
    }
}
