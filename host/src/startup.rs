//! The start-up wiring: the daemon's parts built from a config, one way for `pulse run`,
//! `pulse replay`, `pulse check`, the benchmark and the tests, so none of them can differ
//! from the daemon in how it stages plugins or runs a cycle.

use anyhow::Result;
use tracing::{debug, warn};

use crate::cache::{CacheWriter, Placement, Sink};
use crate::config::Config;
use crate::ha::{Campaign, Leadership};
use crate::pipeline::{CycleSettings, Pipeline};
use crate::plugin::{is_missing_host_key, Generation, HostKey, PluginEngine, PluginFeed, Reloader, Stager};
use crate::source::Source;

/// A stager for `config`: what `pulse check` and the reloader judge plugin files with. It
/// shares the compile cache only when it can verify it, with the host key the daemon made
/// (read, never created here); otherwise plugins compile in memory.
pub fn stager(config: &Config) -> Result<Stager> {
    let key = config.host_key_path().and_then(|path| match HostKey::open(&path) {
        Ok(key) => Some(key),
        Err(e) if is_missing_host_key(&e) => {
            debug!("compile cache not shared: {e:#}; plugins compile in memory");
            None
        }
        Err(e) => {
            warn!("compile cache not shared, plugins compile in memory: {e:#}");
            None
        }
    });
    Stager::new(PluginEngine::new(&config.sandbox)?, config, key)
}

/// Stages every plugin of the config's directory, returning the reloader that keeps them
/// current and the feed a pipeline serves them from. Blocking: it compiles and calls plugins,
/// so async callers run it on a blocking thread.
pub fn load_plugins(config: &Config) -> Result<(Reloader, PluginFeed)> {
    let (mut reloader, feed) = Reloader::new(stager(config)?, config.plugin_dir.clone());
    reloader.reconcile()?;
    Ok((reloader, feed))
}

/// [`load_plugins`] for the daemon: it creates the host key at its first start; with it, the
/// compile cache is used and rollbacks are kept across restarts in the config's state
/// directory, and a file rolled back before this start stays refused.
pub fn serve_plugins(config: &Config) -> Result<(Reloader, PluginFeed)> {
    let key = config.host_key_path().and_then(|path| match HostKey::open_or_create(&path) {
        Ok(key) => Some(key),
        Err(e) => {
            warn!(
                "the compile cache is not used (plugins compile in memory) and rollbacks are not kept across restarts: {e:#}"
            );
            None
        }
    });
    let stager = Stager::new(PluginEngine::new(&config.sandbox)?, config, key.clone())?;
    let (mut reloader, feed) = Reloader::new(stager, config.plugin_dir.clone());
    if let (Some(state_dir), Some(key)) = (config.state_dir(), key) {
        reloader.remember_rollbacks_in(&state_dir, key);
    }
    reloader.reconcile()?;
    Ok((reloader, feed))
}

/// The pipeline `config` asks for, taking snapshots from `source`, serving the plugins of
/// `feed` and writing to `sink`.
pub fn pipeline(config: &Config, source: Source, feed: PluginFeed, sink: Box<dyn Sink>) -> Pipeline {
    Pipeline::new(CycleSettings::from_config(config), source, feed, sink)
}

/// The daemon's pipeline: [`pipeline`] writing to the config's memcached servers, taking
/// back the state saved by the last run, and writing only while it leads its pair with `[ha]`
/// (the campaign, returned, has then started with `generation`'s plugins).
pub async fn daemon_pipeline(
    config: &Config,
    source: Source,
    feed: PluginFeed,
    generation: &Generation,
) -> Result<(Pipeline, Option<Campaign>)> {
    let (leadership, campaign) = leadership(config, generation)?;
    let pipeline = pipeline(config, source, feed, memcached(config).await?)
        .warm_start(config.state_dir())
        .with_leadership(leadership);
    Ok((pipeline, campaign))
}

/// A sink writing to the config's memcached servers, connected.
pub async fn memcached(config: &Config) -> Result<Box<dyn Sink>> {
    let placement = Placement::new(config.memcached.clone(), config.cache.mirror);
    Ok(Box::new(
        CacheWriter::connect(placement, config.write_deadline()).await?,
    ))
}

/// Whether the daemon writes alone, or as one of a pair through `[ha]`: then the campaign has
/// started with the plugins of `generation`, and the daemon is standby until elected.
fn leadership(config: &Config, generation: &Generation) -> Result<(Leadership, Option<Campaign>)> {
    match &config.ha {
        None => Ok((Leadership::alone(), None)),
        Some(ha) => {
            let (leadership, campaign) = crate::ha::start(ha, config.cycle_interval(), generation.plugin_set())?;
            Ok((leadership, Some(campaign)))
        }
    }
}

#[cfg(test)]
mod tests;
