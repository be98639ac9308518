//! `pulse:plugin@0.1.0`, the first contract, still loaded: its worlds bound from
//! `wit/0.1.0`, with each call's data turned from the host's (current) types into 0.1.0's and its
//! results back. A 0.1.0 plugin sees exactly what it saw before 0.2.0: the market without
//! candles, and `describe()` without candle requests.

use std::sync::Arc;

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Store;

use super::{AggregatorInstance, AnalyzerInstance, Contract, Instance, PluginKind, Role, WorldPre};
use crate::plugin::state::HostState;
use crate::shared::contract as now;
use crate::shared::market_view::CallMarket;

/// The `analyzer` world of 0.1.0 and its `types` and `host` interfaces.
// Generated from `wit/0.1.0`, whose comments document each item.
#[allow(missing_docs)]
mod analyzer {
    wasmtime::component::bindgen!({
        world: "analyzer",
        path: "../wit/0.1.0",
    });
}

/// The `aggregator` world of 0.1.0.
// Generated from `wit/0.1.0`, whose comments document each item.
#[allow(missing_docs)]
mod aggregator {
    wasmtime::component::bindgen!({
        world: "aggregator",
        path: "../wit/0.1.0",
        with: {
            "pulse:plugin/types": super::analyzer::pulse::plugin::types,
            "pulse:plugin/host": super::analyzer::pulse::plugin::host,
        },
    });
}

use analyzer::pulse::plugin::{host, types as old};

/// Adds the 0.1.0 host interface to the linker.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

/// The component as a 0.1.0 plugin of `role`, if its exports match that world.
pub(super) fn bind(role: Role, pre: InstancePre<HostState>) -> wasmtime::Result<PluginKind> {
    Ok(match role {
        Role::Analyzer => PluginKind::Analyzer(Arc::new(analyzer::AnalyzerPre::new(pre)?)),
        Role::Aggregator => PluginKind::Aggregator(Arc::new(aggregator::AggregatorPre::new(pre)?)),
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

impl WorldPre<dyn AnalyzerInstance> for analyzer::AnalyzerPre<HostState> {
    fn contract(&self) -> Contract {
        Contract::V0_1
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AnalyzerInstance>> {
        Ok(Box::new(analyzer::AnalyzerPre::instantiate(self, store)?))
    }
}

impl WorldPre<dyn AggregatorInstance> for aggregator::AggregatorPre<HostState> {
    fn contract(&self) -> Contract {
        Contract::V0_1
    }
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Box<dyn AggregatorInstance>> {
        Ok(Box::new(aggregator::AggregatorPre::instantiate(self, store)?))
    }
}

impl Instance for analyzer::Analyzer {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<now::PluginInfo> {
        Ok(info(self.call_describe(store)?))
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.call_init(store, config)
    }
}

impl AnalyzerInstance for analyzer::Analyzer {
    fn analyze(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        _state: &[u8],
    ) -> wasmtime::Result<Result<now::Analyzed, String>> {
        Ok(self
            .call_analyze(store, &to_old_market(market))?
            .map(|result| now::Analyzed {
                analyses: analyses(result),
                state: Vec::new(),
            }))
    }
}

impl Instance for aggregator::Aggregator {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<now::PluginInfo> {
        Ok(info(self.call_describe(store)?))
    }
    fn init(&self, store: &mut Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.call_init(store, config)
    }
}

impl AggregatorInstance for aggregator::Aggregator {
    fn aggregate(
        &self,
        store: &mut Store<HostState>,
        market: &CallMarket,
        results: &[now::AnalyzerOutput],
        _state: &[u8],
    ) -> wasmtime::Result<Result<now::Aggregated, String>> {
        let results: Vec<old::AnalyzerOutput> = results.iter().map(to_old_output).collect();
        let entries = self.call_aggregate(store, &to_old_market(market), &results)?;
        Ok(entries.map(|entries| now::Aggregated {
            entries: entries.into_iter().map(entry).collect(),
            state: Vec::new(),
        }))
    }
}

/// What a 0.1.0 `describe()` says, as the current contract says it: no candles.
fn info(info: old::PluginInfo) -> now::PluginInfo {
    now::PluginInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        history_depth: info.history_depth,
        candles: Vec::new(),
        key_prefixes: info.key_prefixes,
        max_state_bytes: 0,
        state_format: String::new(),
    }
}

/// The market as 0.1.0 has it: everything but the candles.
fn to_old_market(call: &CallMarket) -> old::Market {
    let market = &call.record;
    let history = &market.history;
    old::Market {
        cycle: market.cycle,
        timestamp_ms: market.timestamp_ms,
        snapshot_age_ms: market.snapshot_age_ms,
        source: market.source.to_string(),
        symbols: call.symbols.to_vec(),
        price: market.price.to_vec(),
        change_24h: market.change_24h.to_vec(),
        volume_24h: market.volume_24h.to_vec(),
        turnover_24h: market.turnover_24h.to_vec(),
        high_24h: market.high_24h.to_vec(),
        low_24h: market.low_24h.to_vec(),
        history: old::History {
            lengths: history.lengths.to_vec(),
            price: history.price.to_vec(),
            volume_24h: history.volume_24h.to_vec(),
            timestamp_ms: history.timestamp_ms.to_vec(),
        },
    }
}

fn analyses(analyses: old::Analyses) -> now::Analyses {
    now::Analyses {
        verdicts: analyses
            .verdicts
            .into_iter()
            .map(|v| {
                v.map(|v| now::Verdict {
                    score: v.score,
                    signal: signal(v.signal),
                })
            })
            .collect(),
        component_names: analyses.component_names,
        components: analyses.components,
    }
}

fn to_old_output(output: &now::AnalyzerOutput) -> old::AnalyzerOutput {
    let analyses = &output.analyses;
    old::AnalyzerOutput {
        plugin: output.plugin.clone(),
        version: output.version.clone(),
        analyses: old::Analyses {
            verdicts: analyses
                .verdicts
                .iter()
                .map(|v| {
                    v.map(|v| old::Verdict {
                        score: v.score,
                        signal: to_old_signal(v.signal),
                    })
                })
                .collect(),
            component_names: analyses.component_names.clone(),
            components: analyses.components.clone(),
        },
    }
}

fn signal(signal: old::Signal) -> now::Signal {
    match signal {
        old::Signal::StrongBuy => now::Signal::StrongBuy,
        old::Signal::Buy => now::Signal::Buy,
        old::Signal::Neutral => now::Signal::Neutral,
        old::Signal::Sell => now::Signal::Sell,
        old::Signal::StrongSell => now::Signal::StrongSell,
    }
}

fn to_old_signal(signal: now::Signal) -> old::Signal {
    match signal {
        now::Signal::StrongBuy => old::Signal::StrongBuy,
        now::Signal::Buy => old::Signal::Buy,
        now::Signal::Neutral => old::Signal::Neutral,
        now::Signal::Sell => old::Signal::Sell,
        now::Signal::StrongSell => old::Signal::StrongSell,
    }
}

fn entry(entry: old::CacheEntry) -> now::CacheEntry {
    now::CacheEntry {
        key: entry.key,
        value: match entry.value {
            old::Value::Json(json) => now::Value::Json(json),
            old::Value::Text(text) => now::Value::Text(text),
        },
        ttl_seconds: entry.ttl_seconds,
    }
}
