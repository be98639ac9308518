//! The set of plugins serving cycles, loaded from the plugin directory.
//!
//! A registry is immutable once built; the pipeline takes the current one at the start of
//! each cycle, so a new registry can replace it between cycles.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use tracing::{error, info, warn};

use super::engine::PluginEngine;
use super::loaded::{LoadedPlugin, PluginKind};
use crate::config::Config;

/// The analyzers and aggregators of one generation, each list ordered by file name.
#[derive(Default)]
pub struct Registry {
    /// Plugins exporting the analyzer world.
    pub analyzers: Vec<Arc<LoadedPlugin>>,
    /// Plugins exporting the aggregator world.
    pub aggregators: Vec<Arc<LoadedPlugin>>,
}

impl Registry {
    /// Loads every `*.wasm` file in `dir` (hidden files are ignored). A file that cannot be
    /// loaded is logged with its path and reason and left out; the others still load.
    pub fn load_dir(engine: &Arc<PluginEngine>, dir: &Path, config: &Config) -> Result<Self> {
        let mut registry = Registry::default();
        for path in wasm_files(dir)? {
            let loaded = LoadedPlugin::load(engine, &path, |name| config.plugin_config_json(name))
                .and_then(|plugin| registry.admit(plugin));
            match loaded {
                Ok(plugin) => info!(
                    plugin = %plugin.name,
                    version = %plugin.info.version,
                    kind = plugin.kind.label(),
                    file = %path.display(),
                    "loaded plugin"
                ),
                Err(e) => error!(file = %path.display(), "rejected plugin {}: {e:#}", path.display()),
            }
        }
        for name in config.plugin.keys() {
            if registry.get(name).is_none() {
                warn!("config has a [plugin.{name}] table but no loaded plugin is named {name}");
            }
        }
        if registry.aggregators.is_empty() {
            warn!(dir = %dir.display(), "no aggregator loaded: cycles will write only pulse:status");
        }
        Ok(registry)
    }

    /// Adds a plugin unless its name or key prefixes clash with one already admitted.
    fn admit(&mut self, plugin: LoadedPlugin) -> Result<Arc<LoadedPlugin>> {
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
        let plugin = Arc::new(plugin);
        match plugin.kind {
            PluginKind::Analyzer(_) => self.analyzers.push(plugin.clone()),
            PluginKind::Aggregator(_) => self.aggregators.push(plugin.clone()),
        }
        Ok(plugin)
    }

    /// The plugin called `name`, if loaded.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins().find(|p| &*p.name == name)
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

/// The `*.wasm` files of `dir`, sorted, without hidden files.
fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read plugin directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list plugin directory {}", dir.display()))?
            .path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if !hidden && path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
            files.push(path);
        } else if !hidden && path.is_file() {
            warn!(file = %path.display(), "ignoring {}: plugins must end in .wasm", path.display());
        }
    }
    files.sort();
    Ok(files)
}
