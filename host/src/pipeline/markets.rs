//! The cycle's market at each history depth the plugins asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::history::History;
use crate::plugin::{Generation, LoadedPlugin};
use crate::shared::contract::Market;
use crate::shared::market::Snapshot;

/// The cycle's market for each history depth plugins asked for, built once per cycle.
pub(super) struct MarketsByDepth(BTreeMap<u32, Arc<Market>>);

impl MarketsByDepth {
    pub(super) fn new(
        snapshot: &Snapshot,
        history: &History,
        cycle: u64,
        source: &str,
        age: Duration,
        generation: &Generation,
    ) -> Self {
        let base = snapshot.to_market(cycle, source, age);
        let depths: BTreeSet<u32> = generation.plugins().map(|p| p.info.history_depth).chain([0]).collect();
        let markets = depths
            .into_iter()
            .map(|depth| (depth, Arc::new(history.market(&base, depth as usize))))
            .collect();
        Self(markets)
    }

    pub(super) fn for_plugin(&self, plugin: &LoadedPlugin) -> Arc<Market> {
        self.0[&plugin.info.history_depth].clone()
    }

    /// The market with the deepest history.
    pub(super) fn deepest(&self) -> Arc<Market> {
        self.0.values().next_back().expect("depth 0 is always built").clone()
    }
}
