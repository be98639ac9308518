//! The cycle's market as each plugin asked for it: the widest market built once, then cut
//! once per distinct need, sharing every column the need takes whole.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::candles::CandleStore;
use crate::history::History;
use crate::plugin::{Generation, LoadedPlugin, TrialInput};
use crate::shared::contract::AnalyzerOutput;
use crate::shared::market::Snapshot;
use crate::shared::market_view::{PluginMarket, WidestMarket};
use crate::shared::needs::Needs;

/// The cycle's market for each distinct need of the loaded versions, built once per cycle.
pub(super) struct PluginMarkets {
    /// Everything any plugin asked for: the deepest history, every time frame's candles.
    widest: WidestMarket,
    /// What `widest` holds, as needs.
    holds: Needs,
    /// The widest market cut to each need.
    cut: BTreeMap<Needs, Arc<PluginMarket>>,
}

impl PluginMarkets {
    /// The markets of `generation`'s versions for the snapshot served in `cycle`, `age` old.
    pub(super) fn new(
        snapshot: &Snapshot,
        (history, candles): (&History, &mut CandleStore),
        cycle: u64,
        source: &str,
        age: Duration,
        generation: &Generation,
    ) -> Self {
        let base = snapshot.to_market(cycle, source, age);
        let depth = generation.max_history_depth();
        let widest = candles.market(history.market(&base, depth));
        let holds = Needs::held(depth as u32, candles.demand(), candles.columns());
        let mut cut = BTreeMap::new();
        for plugin in generation.every_version() {
            cut.entry(plugin.needs().clone())
                .or_insert_with_key(|needs| Arc::new(needs.cut(&widest, &holds)));
        }
        Self { widest, holds, cut }
    }

    /// The market `plugin` asked for.
    pub(super) fn for_plugin(&self, plugin: &LoadedPlugin) -> Arc<PluginMarket> {
        self.cut[plugin.needs()].clone()
    }

    /// What a trial call of a version being staged is handed: the widest market, what it
    /// holds (to cut it to the version's needs), and the serving analyzers' `outputs`.
    pub(super) fn trial_input(&self, outputs: Arc<Vec<AnalyzerOutput>>) -> TrialInput {
        TrialInput {
            market: self.widest.clone(),
            holds: self.holds.clone(),
            outputs,
        }
    }
}
