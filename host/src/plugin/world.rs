//! Which world a component exports, told by its exports and checked against the host's WIT.

use anyhow::{bail, Context, Result};
use wasmtime::component::Component;

use super::engine::PluginEngine;
use super::state::HostState;
use crate::shared::contract::aggregator::{Aggregator, AggregatorPre};
use crate::shared::contract::analyzer::{Analyzer, AnalyzerPre};

/// Which world a plugin exports, with the pre-instantiated component for it.
#[derive(Clone)]
pub enum PluginKind {
    /// Scores symbols.
    Analyzer(AnalyzerPre<HostState>),
    /// Writes cache entries.
    Aggregator(AggregatorPre<HostState>),
}

impl PluginKind {
    /// Tells an analyzer from an aggregator by its exports, and checks them against the host's
    /// WIT (`pulse:plugin@0.1.0`).
    pub fn of(engine: &PluginEngine, component: &Component) -> Result<Self> {
        let ty = component.component_type();
        let exports: Vec<&str> = ty.exports(engine.engine()).map(|(name, _)| name).collect();
        let pre = engine
            .linker()
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context(
                "imports something the host does not provide (only WASI and pulse:plugin/host@0.1.0 are offered)",
            )?;
        if exports.contains(&"analyze") {
            let pre = AnalyzerPre::new(pre)
                .map_err(anyhow::Error::from)
                .context("exports `analyze` but does not match the analyzer world of pulse:plugin@0.1.0")?;
            Ok(PluginKind::Analyzer(pre))
        } else if exports.contains(&"aggregate") {
            let pre = AggregatorPre::new(pre)
                .map_err(anyhow::Error::from)
                .context("exports `aggregate` but does not match the aggregator world of pulse:plugin@0.1.0")?;
            Ok(PluginKind::Aggregator(pre))
        } else {
            bail!(
                "exports neither the analyzer nor the aggregator world of pulse:plugin@0.1.0 (its exports: {})",
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            )
        }
    }

    /// `analyzer` or `aggregator`, for logs and status.
    pub fn label(&self) -> &'static str {
        match self {
            PluginKind::Analyzer(_) => "analyzer",
            PluginKind::Aggregator(_) => "aggregator",
        }
    }

    /// Whether the world writes cache keys.
    pub fn writes_keys(&self) -> bool {
        matches!(self, PluginKind::Aggregator(_))
    }
}

/// Pre-instantiated worlds that can be instantiated into a store.
pub trait Instantiate {
    /// The world's instance.
    type Instance;
    /// A fresh instance in `store`.
    fn instantiate_in(&self, store: &mut wasmtime::Store<HostState>) -> wasmtime::Result<Self::Instance>;
}

impl Instantiate for AnalyzerPre<HostState> {
    type Instance = Analyzer;
    fn instantiate_in(&self, store: &mut wasmtime::Store<HostState>) -> wasmtime::Result<Analyzer> {
        self.instantiate(store)
    }
}

impl Instantiate for AggregatorPre<HostState> {
    type Instance = Aggregator;
    fn instantiate_in(&self, store: &mut wasmtime::Store<HostState>) -> wasmtime::Result<Aggregator> {
        self.instantiate(store)
    }
}
