//! Hot swap: keeps the published generation of plugins in step with the plugin directory.
//!
//! The directory itself is watched (a watch on a file dies when a rename replaces it), with
//! events debounced so a temp-write-then-rename or a `cp` in place is acted on once, when
//! the write is complete. Each change is reconciled against the directory's contents:
//! new files are loaded, changed ones (wasm or `NAME.toml` beside it) restaged, removed ones
//! unloaded. Staging runs here, off the cycle's path; the new generation is published at
//! once and the pipeline picks it up at its next cycle boundary. If staging fails, the old
//! version keeps serving.
//!
//! The directory's `shadow/` folder holds candidate versions, staged the same way: each runs
//! beside the serving plugin of its name (or alone, when none serves) and never writes. A
//! shadow of another kind than the serving plugin of its name is refused.
//!
//! The version a swap replaced stays staged, so that a new version that fails its probation
//! (the status board judges it, the pipeline asks through the feed) gives way to it at once;
//! the failing file stays in place, refused until it changes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use tracing::{info, warn};

use super::admission::{decide, Candidate};
use lines::{log_admitted, log_refused, log_still_refused, reject};
use refused::RefusedFiles;
use remembered::Remembered;
pub use watch::DirectoryWatch;

use super::feed::{feed, FeedSource, PluginFeed};
use super::file::{is_shadow_file, PluginSource, SHADOW_DIR};
use super::generation::Generation;
use super::host_key::HostKey;
use super::loaded::LoadedPlugin;
use super::stage::Stage;
use super::stager::Stager;
use crate::shared::identity::PluginId;
use crate::shared::text::quoted_path;

/// Owns the plugin directory's state and publishes each new generation of plugins.
pub struct Reloader {
    /// Stages each new or changed file.
    stager: Stager,
    /// The plugin directory.
    dir: PathBuf,
    /// Where generations go and trial inputs come from.
    feed: FeedSource,
    /// Versions refused (at a stage, or rolled back), so an unchanged bad file is not retried
    /// on every event.
    rejected: RefusedFiles,
    /// Non-plugin files already warned about.
    ignored: HashSet<PathBuf>,
    /// The version each swap replaced, by name, while the version that replaced it serves.
    previous: HashMap<PluginId, Arc<LoadedPlugin>>,
    /// Rollbacks kept across restarts, in the daemon's state directory.
    remembered: Remembered,
}

impl Reloader {
    /// A reloader for the plugin directory `dir`, with an empty generation published, staging
    /// through `stager`; its trial calls use what the pipeline last left in the feed. Returns
    /// the feed the pipeline serves from.
    pub fn new(stager: Stager, dir: PathBuf) -> (Self, PluginFeed) {
        let (feed, pipeline_end) = feed();
        let reloader = Self {
            stager,
            dir,
            feed,
            rejected: RefusedFiles::default(),
            ignored: HashSet::new(),
            previous: HashMap::new(),
            remembered: Remembered::none(),
        };
        (reloader, pipeline_end)
    }

    /// Keeps rollbacks across restarts in `state_dir`, and refuses what was rolled back there
    /// before: the daemon's reloader does; a backtest's does not.
    /// The index and the saved versions are trusted only under `key`.
    pub fn remember_rollbacks_in(&mut self, state_dir: &Path, key: HostKey) {
        self.remembered = Remembered::load(state_dir, key);
    }

    /// The generation now published.
    pub fn current(&self) -> Arc<Generation> {
        self.feed.generations.borrow().clone()
    }

    /// Brings the generation in line with the directory and publishes it if anything changed.
    /// Fails only if the directory cannot be listed.
    pub fn reconcile(&mut self) -> Result<()> {
        let current = self.current();
        let files = self.scan(&self.dir.clone())?;
        let shadow_dir = self.dir.join(SHADOW_DIR);
        let shadow_files = match shadow_dir.is_dir() {
            true => self.scan(&shadow_dir)?,
            false => Vec::new(),
        };
        let (kept, staged) = self.stage_changes(&files, &current);
        let (kept_shadows, staged_shadows) = self.stage_changes(&shadow_files, &current);
        self.rejected
            .retain(|path| files.iter().chain(&shadow_files).any(|listed| listed == path));

        let times: HashMap<PathBuf, (Duration, bool)> = staged
            .iter()
            .map(|s| (s.plugin.path.clone(), (s.time, s.cached)))
            .collect();
        let candidates = staged
            .into_iter()
            .map(|s| Candidate {
                new: s.plugin,
                old: s.old,
            })
            .collect();
        let decision = decide(kept, candidates);
        let mut changed = !decision.admitted.is_empty();
        for admitted in &decision.admitted {
            let (time, cached) = times[&admitted.new.path];
            log_admitted(&admitted.new, admitted.old.as_deref(), time, cached);
            inherit::serving(&admitted.new, admitted.old.as_ref(), &current);
            if let Some(old) = &admitted.old {
                self.previous.insert(old.id.clone(), old.clone());
            }
        }
        for refusal in &decision.refused {
            log_refused(refusal);
        }
        let serving = Generation::of(decision.serving);
        let shadows = self.admit_shadows(&serving, kept_shadows, staged_shadows, &mut changed);
        let next = serving.with_shadows(shadows);
        for gone in current.every_version().filter(|p| next.by_path(&p.path).is_none()) {
            let what = if is_shadow_file(&gone.path) { "shadow" } else { "plugin" };
            info!(
                plugin = %gone.id,
                version = %gone.info.version,
                hash = gone.short_hash(),
                file = %quoted_path(&gone.path),
                "unloaded {what} {} {}: its file was removed",
                gone.id,
                gone.info.version
            );
            changed = true;
        }
        self.previous.retain(|id, _| next.get(id).is_some());
        if changed {
            self.feed.generations.send_replace(Arc::new(next));
        }
        Ok(())
    }

    /// The shadows of the next generation: those kept as they were, and the staged ones whose
    /// kind is that of the plugin of their name in `serving` (or that no plugin of their name
    /// serves); a staged shadow of another kind is refused and remembered.
    fn admit_shadows(
        &mut self,
        serving: &Generation,
        kept: Vec<Arc<LoadedPlugin>>,
        staged: Vec<Staged>,
        changed: &mut bool,
    ) -> Vec<Arc<LoadedPlugin>> {
        let mut shadows = kept;
        for Staged { plugin, old, time, .. } in staged {
            if let Some(other) = serving.get(&plugin.id).filter(|s| s.kind.role() != plugin.kind.role()) {
                let why = anyhow!(
                    "a shadow must be of its serving plugin's kind: this one is an {}, {} serving is an {}",
                    plugin.kind.label(),
                    other.id,
                    other.kind.label()
                );
                reject(&plugin.path, Stage::Admit, &why, old.as_deref());
                let why = format!("rejected at {}: {why}", Stage::Admit);
                self.rejected.insert(&plugin.path, &plugin.fingerprint, why);
                shadows.extend(old);
                continue;
            }
            let beside = serving.get(&plugin.id).map_or_else(
                || "alone: no version of it serves".to_string(),
                |s| format!("beside {} {} ({})", s.id, s.info.version, s.short_hash()),
            );
            info!(
                plugin = %plugin.id,
                version = %plugin.info.version,
                kind = plugin.kind.label(),
                hash = plugin.short_hash(),
                file = %quoted_path(&plugin.path),
                staging_ms = time.as_secs_f64() * 1000.0,
                "shadow {} {} staged; it runs {beside} from the next cycle, and never writes",
                plugin.id,
                plugin.info.version
            );
            inherit::shadow(&plugin, serving);
            shadows.push(plugin);
            *changed = true;
        }
        shadows
    }

    /// Stages each of `files` that is new or changed against `current`: returns the serving
    /// versions that stay as they are (unchanged, unreadable or refused at staging), and the
    /// versions that passed staging, waiting for admission.
    fn stage_changes(&mut self, files: &[PathBuf], current: &Generation) -> (Vec<Arc<LoadedPlugin>>, Vec<Staged>) {
        let trial = self.feed.trials.borrow().clone();
        let mut kept = Vec::new();
        let mut staged = Vec::new();
        for path in files {
            let old = current.by_path(path).cloned();
            let (source, restoring) = match self.version_to_stage(path, old.as_deref()) {
                // Removed between listing and reading: the next event reconciles it.
                ToStage::Nothing => continue,
                ToStage::Serving => {
                    kept.extend(old);
                    continue;
                }
                ToStage::File(source) => (source, false),
                ToStage::Replaced(source) => (source, true),
            };
            let started = Instant::now();
            match self.stager.stage(&source, trial.as_ref()) {
                Ok((plugin, cached)) => {
                    if !restoring {
                        self.passed(path);
                    }
                    let time = started.elapsed();
                    staged.push(Staged {
                        plugin,
                        old,
                        time,
                        cached,
                    });
                }
                Err(e) => {
                    reject(path, e.stage, &e.error, old.as_deref());
                    // A restored version that fails leaves the rolled-back one refused.
                    if !restoring {
                        let why = format!("rejected at {}: {:#}", e.stage, e.error);
                        self.rejected.insert(path, &source.fingerprint, why);
                    }
                    kept.extend(old);
                }
            }
        }
        (kept, staged)
    }

    /// Which version of `path` to stage, `old` serving from it now: its file when it is new or
    /// changed and not refused; the version it replaced when the file was rolled back before a
    /// restart and nothing of its name serves.
    fn version_to_stage(&mut self, path: &Path, old: Option<&LoadedPlugin>) -> ToStage {
        let source = match PluginSource::read(path) {
            Ok(source) => source,
            Err(_) if !path.exists() => return ToStage::Nothing,
            Err(e) => {
                reject(path, Stage::Read, &e, old);
                return ToStage::Serving;
            }
        };
        if old.is_some_and(|old| old.fingerprint == source.fingerprint) || self.rejected.holds(&source, old) {
            return ToStage::Serving;
        }
        // Only serving files are rolled back; a shadow of the same name is not one of them.
        let refused = self
            .remembered
            .refuses(path, &source.fingerprint)
            .filter(|_| !is_shadow_file(path))
            .map(str::to_string);
        match refused {
            Some(why) => self.still_refused(path, &source, &why, old),
            None => ToStage::File(source),
        }
    }

    /// A file rolled back before a restart, `why`, is still refused: the version it replaced
    /// serves instead, restored from the state directory, unless one of its name serves now.
    fn still_refused(&mut self, path: &Path, source: &PluginSource, why: &str, old: Option<&LoadedPlugin>) -> ToStage {
        let restore = self.remembered.restore(path).filter(|_| old.is_none());
        let serving = match (&restore, old) {
            (Some(_), _) => "the version it replaced, kept in the state directory, serves instead",
            (None, Some(_)) => "the version serving now stays",
            (None, None) => {
                "nothing of its name serves until it changes (the version it replaced could not be restored)"
            }
        };
        log_still_refused(path, source, why, serving);
        self.rejected
            .insert(path, &source.fingerprint, format!("rolled back {why}"));
        restore.map_or(ToStage::Serving, ToStage::Replaced)
    }

    /// `path`'s file passed staging: it is no longer refused, nor remembered as rolled back.
    fn passed(&mut self, path: &Path) {
        self.rejected.remove(path);
        if !is_shadow_file(path) {
            self.remembered.forget(path);
        }
    }

    /// The `*.wasm` entries of `dir` but folders, sorted, hidden files left out. One that is not
    /// a regular file (a FIFO, a device) is listed, for its read to refuse it with the reason.
    fn scan(&mut self, dir: &Path) -> Result<Vec<PathBuf>> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read plugin directory {}", quoted_path(dir)))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot list plugin directory {}", quoted_path(dir)))?
                .path();
            if is_hidden(&path) || path.is_dir() {
                continue;
            }
            match path.extension().and_then(|e| e.to_str()) {
                Some("wasm") => files.push(path),
                Some("toml") if path.with_extension("wasm").exists() => {}
                // `NAME.wasm.sig`, the signature beside a plugin.
                Some("sig") if path.with_extension("").extension().is_some_and(|e| e == "wasm") => {}
                _ => {
                    if self.ignored.insert(path.clone()) {
                        warn!(file = %quoted_path(&path), "ignoring {}: plugins must end in .wasm", quoted_path(&path));
                    }
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// What to stage of one file of the directory.
enum ToStage {
    /// Nothing: the file is gone.
    Nothing,
    /// Nothing new: what serves from it (if anything) stays.
    Serving,
    /// The file as it is now.
    File(PluginSource),
    /// The version a rolled-back file replaced, restored from the state directory.
    Replaced(PluginSource),
}

/// A version that passed staging, waiting for admission.
struct Staged {
    /// The version staged.
    plugin: Arc<LoadedPlugin>,
    /// The version serving from the same file, which it would replace.
    old: Option<Arc<LoadedPlugin>>,
    /// How long staging took, for its log line.
    time: Duration,
    /// Whether its compiled code came from the compile cache.
    cached: bool,
}

/// Whether `path` is a hidden or backup file (`.name`, `name~`), which is never a plugin.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.') || n.ends_with('~'))
}

mod inherit;
mod lines;
mod refused;
mod remembered;
mod rollback;
#[cfg(test)]
mod tests;
mod watch;
