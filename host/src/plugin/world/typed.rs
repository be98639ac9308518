//! A component bound to a world whose call is made through a typed function rather than its
//! generated binding, so the market is lowered straight from the host's columns (the borrowed
//! records of `shared::market_view`) instead of copied into the binding's owned types first.
//! Contracts 0.2.0 to 0.4.0 are called this way; each version's file says which record it
//! lowers.

use wasmtime::component::{self, ComponentExportIndex, ComponentNamedList, InstancePre, Lift, Lower};
use wasmtime::Store;

use super::Contract;
use crate::plugin::state::HostState;

/// A component bound to a world: pre-instantiated, with the world's exports and the one that
/// takes the market found (and type-checked) once, at staging, not at every call.
pub(super) struct TypedPre<Indices> {
    /// The contract version whose world it was bound to.
    contract: Contract,
    pre: InstancePre<HostState>,
    /// The generated bindings' export indices, for `describe` and `init`.
    indices: Indices,
    /// `analyze` or `aggregate`.
    call: ComponentExportIndex,
}

/// An instance of such a world: its bindings for `describe` and `init`, and the instance
/// itself, whose `analyze` or `aggregate` is called with the borrowed market.
pub(super) struct Bound<B> {
    /// The generated bindings, for `describe` and `init`.
    pub(super) bindings: B,
    instance: component::Instance,
    /// `analyze` or `aggregate`.
    call: ComponentExportIndex,
}

impl<Indices> TypedPre<Indices> {
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

impl<B> Bound<B> {
    /// Calls `analyze` or `aggregate` with `params`, typed as the caller's version lowers them
    /// and lifts its result.
    pub(super) fn call<Params, Results>(
        &self,
        store: &mut Store<HostState>,
        params: Params,
    ) -> wasmtime::Result<Results>
    where
        Params: ComponentNamedList + Lower,
        Results: ComponentNamedList + Lift,
    {
        let call = self
            .instance
            .get_typed_func::<Params, Results>(&mut *store, &self.call)?;
        call.call(store, params)
    }
}
