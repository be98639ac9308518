//! The start-up wiring: the daemon's parts built from a config, one way for `pulse run`,
//! `pulse replay`, `pulse check`, the benchmark and the tests, so none of them can differ
//! from the daemon in how it stages plugins or runs a cycle.

use anyhow::Result;

use crate::cache::{CacheWriter, Placement, Sink};
use crate::config::Config;
use crate::ha::{Campaign, Leadership};
use crate::pipeline::{CycleSettings, Pipeline};
use crate::plugin::{Generation, PluginEngine, PluginFeed, Reloader, Stager};
use crate::source::Source;

/// A stager for `config`: what `pulse check` and the reloader judge plugin files with.
pub fn stager(config: &Config) -> Result<Stager> {
    Ok(Stager::new(PluginEngine::new(&config.sandbox)?, config))
}

/// Stages every plugin of the config's directory, returning the reloader that keeps them
/// current and the feed a pipeline serves them from. Blocking: it compiles and calls plugins,
/// so async callers run it on a blocking thread.
pub fn load_plugins(config: &Config) -> Result<(Reloader, PluginFeed)> {
    let (mut reloader, feed) = Reloader::new(stager(config)?, config.plugin_dir.clone());
    reloader.reconcile()?;
    Ok((reloader, feed))
}

/// [`load_plugins`] for the daemon: rollbacks are kept across restarts in the config's state
/// directory, and a file rolled back before this start stays refused.
pub fn serve_plugins(config: &Config) -> Result<(Reloader, PluginFeed)> {
    let (mut reloader, feed) = Reloader::new(stager(config)?, config.plugin_dir.clone());
    if let Some(state_dir) = config.state_dir() {
        reloader.remember_rollbacks_in(&state_dir);
    }
    reloader.reconcile()?;
    Ok((reloader, feed))
}

/// The pipeline `config` asks for, taking snapshots from `source`, serving the plugins of
/// `feed` and writing to `sink`.
pub fn pipeline(config: &Config, source: Source, feed: PluginFeed, sink: Sink) -> Pipeline {
    Pipeline::new(CycleSettings::from_config(config), source, feed, sink)
}

/// A sink writing to the config's memcached servers, connected.
pub async fn memcached(config: &Config) -> Result<Sink> {
    let placement = Placement::new(config.memcached.clone(), config.cache.mirror);
    Ok(Sink::Memcached(
        CacheWriter::connect(placement, config.write_deadline()).await?,
    ))
}

/// Whether the daemon writes alone, or as one of a pair through `[ha]`: then the campaign has
/// started with the plugins of `generation`, and the daemon is standby until elected.
pub fn leadership(config: &Config, generation: &Generation) -> Result<(Leadership, Option<Campaign>)> {
    match &config.ha {
        None => Ok((Leadership::alone(), None)),
        Some(ha) => {
            let (leadership, campaign) = crate::ha::start(ha, config.cycle_interval(), generation.plugin_set())?;
            Ok((leadership, Some(campaign)))
        }
    }
}
