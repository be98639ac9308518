//! `pulse replay --compare OLD NEW`: the live shadow run, offline. OLD serves and NEW runs as its
//! shadow, cycle by cycle over a recorded market, beside the other plugins of `--plugins` if
//! given (an aggregator compares on their results); after each cycle, one JSON line holds the
//! shadow's record exactly as a live daemon's `/shadow/NAME` shows it for the same market (its
//! `evaluation` included). With `--evaluate`, the two versions' figures side by side follow.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::Replaying;
use crate::cache::JsonlSink;
use crate::config::Config;
use crate::plugin::SHADOW_DIR;
use crate::shared::identity::PluginId;
use crate::startup;

/// The two versions compared.
pub struct Versions<'a> {
    /// The version that serves.
    pub old: &'a Path,
    /// The candidate, run as its shadow.
    pub new: &'a Path,
    /// Whether to print their figures side by side at the end.
    pub evaluate: bool,
}

/// Replays `input` with `versions.old` serving and `versions.new` as its shadow, beside the
/// plugins of `others`; writes each cycle's comparison to `out` (stdout if `None`) and the
/// totals to stderr.
pub async fn run(
    config: Config,
    versions: Versions<'_>,
    others: Option<&Path>,
    input: &Path,
    out: Option<&Path>,
) -> Result<()> {
    let name = same_plugin(versions.old, versions.new)?;
    let dir = tempfile::tempdir().context("cannot create a directory for the two versions")?;
    lay_out(dir.path(), &name, &versions, others)?;
    let Replaying {
        config,
        source,
        reloader,
        feed,
    } = Replaying::open(config, dir.path().to_path_buf(), input).await?;
    let generation = reloader.current();
    if generation.get(name.as_str()).is_none() || generation.shadows.is_empty() {
        bail!("{name} did not load in both versions; the log above says which and why");
    }
    let mut lines: Box<dyn Write> = match out {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
        }
        None => Box::new(std::io::stdout()),
    };
    let mut pipeline = startup::pipeline(&config, source, feed, Box::new(JsonlSink::discard())).warm_start(None);
    let started = Instant::now();
    let mut total = None;
    while let Some(summary) = pipeline.run_cycle().await {
        for shadow in &summary.facts.shadows {
            total = Some((summary.facts.cycle, shadow.calls_failed, shadow.since_loaded.clone()));
            // The shadow's record after this cycle, exactly as `/shadow/NAME` shows it live.
            let line = serde_json::to_string(&shadow).context("cannot encode the comparison")?;
            writeln!(lines, "{line}").context("cannot write the comparison")?;
        }
    }
    lines.flush().context("cannot write the comparison")?;
    let (cycles, failed, since) = total.unwrap_or_default();
    eprintln!(
        "compared {name} over {cycles} cycles of {} in {:.2} s ({failed} failed calls of the new version):\n{}",
        input.display(),
        started.elapsed().as_secs_f64(),
        serde_json::to_string_pretty(&since).unwrap_or_default()
    );
    if versions.evaluate {
        let (Some(old), Some(new)) = (generation.get(name.as_str()), generation.shadows.first()) else {
            return Ok(());
        };
        match pipeline.evaluation().paired(name.as_str(), &new.fingerprint) {
            Some(pairs) => eprint!(
                "{}",
                super::evaluation::side_by_side(name.as_str(), &old.info.version, &new.info.version, &pairs)
            ),
            None => eprintln!(
                "{name}: no sample scored both versions (is it an analyzer? is the recording longer than a horizon?)"
            ),
        }
    }
    Ok(())
}

/// The plugin both files are versions of: their names must make the same identity, as they
/// would in a plugin directory.
fn same_plugin(old: &Path, new: &Path) -> Result<PluginId> {
    let (a, b) = (PluginId::of_file(old)?, PluginId::of_file(new)?);
    if a != b {
        bail!(
            "{} and {} must be named after the same plugin, as in a plugin directory (here {a} and {b}): \
             put them in two folders under one name, e.g. old/{a}.wasm and new/{a}.wasm",
            old.display(),
            new.display()
        );
    }
    Ok(a)
}

/// Lays out `dir`: the plugins of `others` but `name`, then `old` in place and `new` in
/// `shadow/`, each with its side config (`NAME.toml` beside it) if it has one.
fn lay_out(dir: &Path, name: &PluginId, versions: &Versions<'_>, others: Option<&Path>) -> Result<()> {
    if let Some(others) = others {
        let entries = std::fs::read_dir(others).with_context(|| format!("cannot read {}", others.display()))?;
        for entry in entries {
            let path = entry?.path();
            let plugin = path.extension().is_some_and(|e| e == "wasm" || e == "toml") && path.is_file();
            if plugin && PluginId::of_file(&path).ok().as_ref() != Some(name) {
                copy(&path, &dir.join(path.file_name().unwrap_or_default()))?;
            }
        }
    }
    let shadows = dir.join(SHADOW_DIR);
    std::fs::create_dir(&shadows)?;
    for (file, into) in [(versions.old, dir.to_path_buf()), (versions.new, shadows)] {
        let target: PathBuf = into.join(file.file_name().unwrap_or_default());
        copy(file, &target)?;
        let side = file.with_extension("toml");
        if side.is_file() {
            copy(&side, &target.with_extension("toml"))?;
        }
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    Ok(())
}
