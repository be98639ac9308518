//! `pulse replay`: a backtest. Runs the full cycle over a recorded market as fast as it can,
//! with the plugins of a directory, and writes every cycle's cache entries as JSON Lines
//! instead of to memcached, so two plugin versions can be compared with `diff` or `jq`; or,
//! with `--compare` (`compare.rs`), compares two versions of one plugin cycle by cycle. With
//! `--evaluate` (`evaluation.rs`), it scores the analyzers' verdicts against what the recorded
//! market did next.

pub mod compare;
pub mod evaluation;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};

use crate::cache::JsonlSink;
use crate::config::Config;
use crate::config::{Millis, ReplayEnd, SourceSpec};
use crate::plugin::{PluginFeed, Reloader};
use crate::source::Source;
use crate::startup;

/// What a replay runs: the config as a replay of `input` sees it, the recording as the source,
/// and the plugins of `plugins`, staged.
struct Replaying {
    config: Config,
    source: Source,
    reloader: Reloader,
    feed: PluginFeed,
}

impl Replaying {
    /// Opens `input` and stages the plugins of `plugins` under `config`, for one pass over the
    /// recording that writes nothing anywhere else.
    async fn open(mut config: Config, plugins: PathBuf, input: &Path) -> Result<Self> {
        config.plugin_dir = plugins;
        config.source = SourceSpec::replay(input).map_err(anyhow::Error::msg)?;
        config.market.replay_end = ReplayEnd::Stop;
        config.market.record = None;
        // A replay reports each plugin's instructions per call, whatever the daemon's setting.
        config.sandbox.count_instructions = true;
        // As fast as it goes, but never past a line still being read: what a replay computes
        // must not depend on the disk's speed.
        config.market.request_timeout_ms = Some(Millis(Millis::MAX));
        let source = Source::from_config(&config)?;
        let (reloader, feed) = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || startup::load_plugins(&config)).await??
        };
        Ok(Self {
            config,
            source,
            reloader,
            feed,
        })
    }
}

/// Replays `input` through the plugins in `plugins`, writing entries to `out` (stdout if
/// `None`), and prints a summary to stderr. With `evaluate`, stdout has the analyzers' figures
/// as JSON instead (the entries go to `out` only if it is given) and stderr their table.
pub async fn run(config: Config, plugins: PathBuf, input: &Path, out: Option<&Path>, evaluate: bool) -> Result<()> {
    let Replaying {
        config,
        source,
        reloader,
        feed,
    } = Replaying::open(config, plugins, input).await?;
    if reloader.current().plugins().next().is_none() {
        bail!("no plugin loaded from {}", config.plugin_dir.display());
    }
    let sink = match (evaluate, out) {
        (true, None) => JsonlSink::discard(),
        _ => JsonlSink::create(out)?,
    };
    // A recording made by a daemon that started warm starts the replay where it started.
    let mut pipeline = startup::pipeline(&config, source, feed, Box::new(sink)).warm_start(None);
    let started = Instant::now();
    let mut cycles = 0u64;
    while let Some(summary) = pipeline.run_cycle().await {
        cycles = summary.facts.cycle;
        if let Some(e) = summary.write.error() {
            bail!("cannot write the output: {e}");
        }
    }
    eprintln!(
        "replayed {cycles} cycles from {} in {:.2} s\n{}",
        input.display(),
        started.elapsed().as_secs_f64(),
        pipeline.status().summary()
    );
    if evaluate {
        if !config.evaluation.enabled {
            eprintln!("nothing scored: [evaluation] enabled = false in the config");
        }
        let scored = evaluation::scored(pipeline.evaluation(), &reloader.current());
        eprint!("{}", evaluation::table(&scored));
        println!("{}", serde_json::to_string_pretty(&scored)?);
    }
    Ok(())
}
