//! `pulse:plugin@0.3.0`, the current contract: its worlds, whose types are the host's own, so
//! a call hands them over as they are; the market goes in as a borrowed view
//! ([`MarketRef`]), lowered straight from the host's columns. 0.2.0 (`v0_2.rs`) differs only in
//! `describe`, so its plugins are called the same way.

use std::sync::Arc;

use wasmtime::component::{self, ComponentExportIndex, HasSelf, InstancePre, Linker};
use wasmtime::Store;

use super::{AggregatorInstance, AnalyzerInstance, Contract, Instance, PluginKind, Role, WorldPre};
use crate::plugin::state::HostState;
use crate::shared::contract::aggregator::{Aggregator, AggregatorIndices};
use crate::shared::contract::analyzer::pulse::plugin::host;
use crate::shared::contract::analyzer::{Analyzer, AnalyzerIndices};
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry, PluginInfo};
use crate::shared::market_view::MarketRef;

/// Adds the 0.3.0 host interface to the linker.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// The component as a 0.3.0 plugin of `role`, if its exports match that world.
pub(super) fn bind(role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
    Ok(match role {
        Role::Analyzer => PluginKind::Analyzer(Arc::new(CurrentPre::new(
            Contract::V0_3,
            AnalyzerIndices::new(&pre)?,
            pre,
            "analyze",
        )?)),
        Role::Aggregator => PluginKind::Aggregator(Arc::new(CurrentPre::new(
            Contract::V0_3,
            AggregatorIndices::new(&pre)?,
            pre,
            "aggregate",
        )?)),
    })
}

/// A component bound to a world of 0.3.0 (or 0.2.0): pre-instantiated, with the world's
/// exports and the one that takes the market found (and type-checked) once, at staging, not at
/// every call.
pub(super) struct CurrentPre<Indices> {
    /// The contract version whose world it was bound to.
    contract: Contract,
    pre: InstancePre<HostState>,
    /// The generated bindings' export indices, for `describe` and `init`.
    indices: Indices,
    /// `analyze` or `aggregate`.
    call: ComponentExportIndex,
}

/// An instance of a 0.3.0 (or 0.2.0) world: its bindings for `describe` and `init`, and the
/// instance itself, whose `analyze` or `aggregate` is called with the borrowed market.
pub(super) struct Bound<B> {
    /// The generated bindings, for `describe` and `init`.
    pub(super) bindings: B,
    instance: component::Instance,
    /// `analyze` or `aggregate`.
    call: ComponentExportIndex,
}

/// The bindings of an analyzer world, whose `analyze` takes the host's market.
pub(super) trait AnalyzerBindings: Send + Sync {}

/// The bindings of an aggregator world, whose `aggregate` takes the host's market and results.
pub(super) trait AggregatorBindings: Send + Sync {}

impl AnalyzerBindings for Analyzer {}
impl AggregatorBindings for Aggregator {}

impl<Indices> CurrentPre<Indices> {
    /// `pre` bound to a world of `contract`, whose export `call` takes the market.
    pub(super) fn new(
        contract: Contract,
        indices: Indices,
        pre: InstancePre<HostState>,
        call: &str,
    ) -> wasmtime::Result<Self> {
        let call = pre
            .component()
            .get_export_index(None, call)
            .ok_or_else(|| wasmtime::Error::msg(format!("no `{call}` export")))?;
        Ok(Self {
            contract,
            pre,
            indices,
            call,
        })
    }

    /// The contract version it was bound to.
    pub(super) fn contract(&self) -> Contract {
        self.contract
    }

    /// A fresh instance in `store`, with its bindings loaded by `load` from the indices.
    pub(super) fn bound<B>(
        &self,
        store: &mut Store<HostState>,
        load: impl FnOnce(&Indices, &mut Store<HostState>, &component::Instance) -> wasmtime::Result<B>,
    ) -> wasmtime::Result<Bound<B>> {
        let instance = self.pre.instantiate(&mut *store)?;
        Ok(Bound {
            bindings: load(&self.indices, store, &instance)?,
            instance,
            call: self.call,
        })
    }
}

impl WorldPre<dyn AnalyzerInstance> for CurrentPre<AnalyzerIndices> {
    fn contract(&self) -> Contract {
        self.contract
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AnalyzerInstance>> {
        Ok(Box::new(self.bound(store, |i, s, instance| i.load(s, instance))?))
    }
}

impl WorldPre<dyn AggregatorInstance> for CurrentPre<AggregatorIndices> {
    fn contract(&self) -> Contract {
        self.contract
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

impl<B: AnalyzerBindings> AnalyzerInstance for Bound<B>
where
    Self: Instance,
{
    fn analyze(&self, store: &mut Store<HostState>, market: &MarketRef) -> wasmtime::Result<Result<Analyses, String>> {
        let analyze = self
            .instance
            .get_typed_func::<(&MarketRef,), (Result<Analyses, String>,)>(&mut *store, &self.call)?;
        Ok(analyze.call(store, (market,))?.0)
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

impl<B: AggregatorBindings> AggregatorInstance for Bound<B>
where
    Self: Instance,
{
    fn aggregate(
        &self,
        store: &mut Store<HostState>,
        market: &MarketRef,
        results: &[AnalyzerOutput],
    ) -> wasmtime::Result<Result<Vec<CacheEntry>, String>> {
        let aggregate = self
            .instance
            .get_typed_func::<(&MarketRef, &[AnalyzerOutput]), (Result<Vec<CacheEntry>, String>,)>(
                &mut *store,
                &self.call,
            )?;
        Ok(aggregate.call(store, (market, results))?.0)
    }
}
