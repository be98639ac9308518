//! The set of plugins serving cycles: one generation, immutable once published.
//!
//! The pipeline takes the current generation at the start of each cycle, so a new one
//! published between cycles serves whole cycles only. Beside the serving plugins, a generation
//! holds the shadows: candidate versions from the plugin directory's `shadow/` folder, run on
//! the same input as the serving version of their name and compared with it, never written.

use std::path::Path;
use std::sync::Arc;

use super::loaded::LoadedPlugin;
use super::world::PluginKind;
use crate::shared::candle::CandleDemand;
use crate::shared::columns::{Columns, ColumnsWanted};
use crate::shared::contract::CandleColumns;
use crate::shared::timeframe::{self, TIMEFRAMES};

/// The analyzers and aggregators of one generation, each list ordered by file path.
#[derive(Default)]
pub struct Generation {
    /// Plugins exporting the analyzer world.
    pub analyzers: Vec<Arc<LoadedPlugin>>,
    /// Plugins exporting the aggregator world.
    pub aggregators: Vec<Arc<LoadedPlugin>>,
    /// Candidate versions that run beside the serving plugin of their name, ordered by path.
    pub shadows: Vec<Arc<LoadedPlugin>>,
}

impl Generation {
    /// The generation serving `plugins`, which admission has already cleared of clashes.
    pub fn of(plugins: impl IntoIterator<Item = Arc<LoadedPlugin>>) -> Self {
        let mut generation = Self::default();
        for plugin in plugins {
            let list = match plugin.kind {
                PluginKind::Analyzer(_) => &mut generation.analyzers,
                PluginKind::Aggregator(_) => &mut generation.aggregators,
            };
            list.push(plugin);
        }
        generation.analyzers.sort_by(|a, b| a.path.cmp(&b.path));
        generation.aggregators.sort_by(|a, b| a.path.cmp(&b.path));
        generation
    }

    /// This generation with `shadows` beside its serving plugins.
    pub fn with_shadows(mut self, mut shadows: Vec<Arc<LoadedPlugin>>) -> Self {
        shadows.sort_by(|a, b| a.path.cmp(&b.path));
        self.shadows = shadows;
        self
    }

    /// Makes every version that starts from another's state take it now: the first cycle after
    /// the version is loaded does so before any call (whether or not it calls the version), so
    /// the state is the one the last cycle left (`kept_state.rs`).
    pub fn settle_states(&self) {
        for version in self.every_version() {
            version.state();
        }
    }

    /// The plugin whose identity is `name`, if loaded.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins().find(|p| p.id.as_str() == name)
    }

    /// The version loaded from `path`, serving or shadow, if any.
    pub fn by_path(&self, path: &Path) -> Option<&Arc<LoadedPlugin>> {
        self.every_version().find(|p| p.path == path)
    }

    /// Every serving plugin, analyzers first.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.analyzers.iter().chain(&self.aggregators)
    }

    /// Every loaded version, the serving plugins then the shadows: what the cycle's market
    /// must hold.
    pub fn every_version(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.plugins().chain(&self.shadows)
    }

    /// The plugins served, as the daemons of a pair compare them: name → `VERSION@HASH12`.
    pub fn plugin_set(&self) -> crate::shared::leadership::PluginSet {
        self.plugins()
            .map(|p| (p.id.to_string(), format!("{}@{}", p.info.version, p.short_hash())))
            .collect()
    }

    /// The deepest candles of each time frame any loaded version asks for.
    pub fn candle_demand(&self) -> CandleDemand {
        let mut demand = CandleDemand::default();
        for request in self.every_version().flat_map(|p| &p.info.candles) {
            demand.want(request.timeframe, request.depth);
        }
        demand
    }

    /// Per time frame, the candle columns any loaded version reads.
    pub fn candle_columns(&self) -> ColumnsWanted {
        let mut columns = [Columns(CandleColumns::empty()); TIMEFRAMES.len()];
        for request in self.every_version().flat_map(|p| &p.info.candles) {
            let k = timeframe::index(request.timeframe);
            columns[k] = columns[k].and(Columns(request.columns));
        }
        columns
    }

    /// The deepest history any loaded version asks for.
    pub fn max_history_depth(&self) -> usize {
        self.every_version()
            .map(|p| p.info.history_depth as usize)
            .max()
            .unwrap_or(0)
    }
}
