//! Which world of which contract version a component exports, told by its exports and checked
//! against the WIT. Each contract version is a file of its own (`current.rs` for
//! `pulse:plugin@0.4.0`, `v0_3.rs` for `@0.3.0`, `v0_2.rs` for `@0.2.0`, `v0_1.rs` for
//! `@0.1.0`) that binds both worlds and turns its types into the host's (the current
//! contract's); `typed.rs` holds what the versions called through a typed function share. The
//! rest of the host sees only the traits here.

mod current;
mod typed;
mod v0_1;
mod v0_2;
mod v0_3;

use std::fmt;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

use super::state::HostState;
use crate::shared::contract::{Aggregated, Analyzed, AnalyzerOutput, PluginInfo};
use crate::shared::market_view::CallMarket;

/// A version of the plugin contract the host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `pulse:plugin@0.1.0`: the 24 h tickers and the cycle's own history.
    V0_1,
    /// `pulse:plugin@0.2.0`: adds candles per time frame.
    V0_2,
    /// `pulse:plugin@0.3.0`: a candle request names the columns it reads.
    V0_3,
    /// `pulse:plugin@0.4.0`: state across calls, the symbols as one buffer, data age per
    /// symbol.
    V0_4,
}

impl Contract {
    /// Every version the host loads, newest first: the order a component is matched in.
    pub const ALL: [Contract; 4] = [Contract::V0_4, Contract::V0_3, Contract::V0_2, Contract::V0_1];

    /// The package version, as plugins, `pulse check` and `/plugins` name it.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
            Contract::V0_3 => "0.3.0",
            Contract::V0_4 => "0.4.0",
        }
    }

    /// Adds this version's host interface to the linker.
    pub(super) fn link(self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        match self {
            Contract::V0_1 => v0_1::link(linker),
            Contract::V0_2 => v0_2::link(linker),
            Contract::V0_3 => v0_3::link(linker),
            Contract::V0_4 => current::link(linker),
        }
    }

    /// The component bound to this version's world for `role`, if its exports match it.
    fn bind(self, role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
        match self {
            Contract::V0_1 => v0_1::bind(role, pre),
            Contract::V0_2 => v0_2::bind(role, pre),
            Contract::V0_3 => v0_3::bind(role, pre),
            Contract::V0_4 => current::bind(role, pre),
        }
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pulse:plugin@{}", self.version())
    }
}

/// The two roles a plugin can play in a cycle: what kinds are told apart and compared by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Exports `analyze`.
    Analyzer,
    /// Exports `aggregate`.
    Aggregator,
}

/// What every world's instance offers: `describe` and `init`.
pub trait Instance {
    /// Calls `describe()`.
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo>;
    /// Calls `init(config)`.
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>>;
}

/// An analyzer instance of any contract version, called with the host's types.
pub trait AnalyzerInstance: Instance {
    /// Calls `analyze(market, state)`; a version before 0.4.0 is handed no state and returns
    /// none.
    fn analyze(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        state: &[u8],
    ) -> wasmtime::Result<Result<Analyzed, String>>;
}

/// An aggregator instance of any contract version, called with the host's types.
pub trait AggregatorInstance: Instance {
    /// Calls `aggregate(market, results, state)`; a version before 0.4.0 is handed no state
    /// and returns none.
    fn aggregate(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        results: &[AnalyzerOutput],
        state: &[u8],
    ) -> wasmtime::Result<Result<Aggregated, String>>;
}

/// A component pre-instantiated for one world of one contract version.
pub trait WorldPre<I: ?Sized>: Send + Sync {
    /// The contract version it speaks.
    fn contract(&self) -> Contract;
    /// A fresh instance in `store`.
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<I>>;
}

/// Which world a plugin exports, with the pre-instantiated component for it.
#[derive(Clone)]
pub enum PluginKind {
    /// Scores symbols.
    Analyzer(Arc<dyn WorldPre<dyn AnalyzerInstance>>),
    /// Writes cache entries.
    Aggregator(Arc<dyn WorldPre<dyn AggregatorInstance>>),
}

impl PluginKind {
    /// Tells an analyzer from an aggregator by its exports, and the contract version by
    /// matching them against each version's world, newest first; `linker` (the engine's, with
    /// WASI and every version's host interface) pre-instantiates it.
    pub fn of(engine: &Engine, linker: &Linker<HostState>, component: &Component) -> Result<Self> {
        let ty = component.component_type();
        let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
        let versions: Vec<String> = Contract::ALL.iter().map(|c| c.version().to_string()).collect();
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "imports something the host does not provide (only WASI and pulse:plugin/host@{} are offered)",
                    versions.join(" or @")
                )
            })?;
        let (role, export) =
            if exports.contains(&"analyze") {
                (Role::Analyzer, "analyze")
            } else if exports.contains(&"aggregate") {
                (Role::Aggregator, "aggregate")
            } else {
                bail!(
                "exports neither the analyzer nor the aggregator world of pulse:plugin (versions {}; its exports: {})",
                versions.join(", "),
                if exports.is_empty() { "none".to_string() } else { exports.join(", ") }
            )
            };
        let mut mismatches = Vec::new();
        for contract in Contract::ALL {
            match contract.bind(role, pre.clone()) {
                Ok(kind) => return Ok(kind),
                Err(e) => mismatches.push(format!("{contract}: {e:#}")),
            }
        }
        bail!(
            "exports `{export}` but does not match the {} world of any contract version the host speaks ({})",
            role_label(role),
            mismatches.join("; ")
        )
    }

    /// `analyzer` or `aggregator`, for logs and status.
    pub fn label(&self) -> &'static str {
        role_label(self.role())
    }

    /// The contract version the plugin speaks.
    pub fn contract(&self) -> Contract {
        match self {
            PluginKind::Analyzer(pre) => pre.contract(),
            PluginKind::Aggregator(pre) => pre.contract(),
        }
    }

    /// Whether the world writes cache keys.
    pub fn writes_keys(&self) -> bool {
        self.role() == Role::Aggregator
    }

    /// A fresh instance in `store`, seen as what both worlds offer.
    pub(super) fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn Instance>> {
        Ok(match self {
            PluginKind::Analyzer(pre) => pre.instantiate(store)?,
            PluginKind::Aggregator(pre) => pre.instantiate(store)?,
        })
    }

    /// The role its exports give it.
    pub fn role(&self) -> Role {
        match self {
            PluginKind::Analyzer(_) => Role::Analyzer,
            PluginKind::Aggregator(_) => Role::Aggregator,
        }
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Analyzer => "analyzer",
        Role::Aggregator => "aggregator",
    }
}
