//! The set of plugins serving cycles: one generation, immutable once published.
//!
//! The pipeline takes the current registry at the start of each cycle, so a new generation
//! published between cycles serves whole cycles only.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};

use super::loaded::{LoadedPlugin, PluginKind};

/// The analyzers and aggregators of one generation, each list ordered by file path.
#[derive(Default)]
pub struct Registry {
    /// Plugins exporting the analyzer world.
    pub analyzers: Vec<Arc<LoadedPlugin>>,
    /// Plugins exporting the aggregator world.
    pub aggregators: Vec<Arc<LoadedPlugin>>,
}

impl Registry {
    /// Adds a plugin unless its name or key prefixes clash with one already admitted: two
    /// writers may never share a key.
    pub fn admit(&mut self, plugin: Arc<LoadedPlugin>) -> Result<()> {
        if let Some(other) = self.get(&plugin.name) {
            bail!("name {:?} is already used by {}", plugin.name, other.path.display());
        }
        for other in &self.aggregators {
            for mine in &plugin.info.key_prefixes {
                if let Some(theirs) = other
                    .info
                    .key_prefixes
                    .iter()
                    .find(|theirs| theirs.starts_with(mine.as_str()) || mine.starts_with(theirs.as_str()))
                {
                    bail!(
                        "key prefix {mine:?} overlaps {theirs:?} of {} ({}): two writers may not share keys",
                        other.name,
                        other.path.display()
                    );
                }
            }
        }
        let list = match plugin.kind {
            PluginKind::Analyzer(_) => &mut self.analyzers,
            PluginKind::Aggregator(_) => &mut self.aggregators,
        };
        let at = list.partition_point(|p| p.path < plugin.path);
        list.insert(at, plugin);
        Ok(())
    }

    /// The plugin called `name`, if loaded.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins().find(|p| &*p.name == name)
    }

    /// The plugin loaded from `path`, if any.
    pub fn by_path(&self, path: &Path) -> Option<&Arc<LoadedPlugin>> {
        self.plugins().find(|p| p.path == path)
    }

    /// Every loaded plugin, analyzers first.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.analyzers.iter().chain(&self.aggregators)
    }

    /// The deepest history any loaded plugin asks for.
    pub fn max_history_depth(&self) -> usize {
        self.plugins().map(|p| p.info.history_depth as usize).max().unwrap_or(0)
    }
}
