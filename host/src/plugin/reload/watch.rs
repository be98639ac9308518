//! Watching the plugin directory: its events, debounced, wake the reloader's thread, which
//! reconciles on every settled change and rolls back what the pipeline asks to.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, DebouncedEvent};
use tracing::{error, warn};

use super::{is_hidden, Reloader};
use crate::plugin::feed::Wake;
use crate::plugin::file::SHADOW_DIR;
use crate::shared::text::quoted_path;

/// Quiet time after the last file event before the directory is reconciled.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Keeps the directory watch alive; dropping it stops watching.
pub struct DirectoryWatch {
    /// The watch itself, held for its life.
    _debouncer: notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>,
    /// Wakes the reloader's thread to read the directory again.
    wake: std::sync::mpsc::Sender<Wake>,
}

impl DirectoryWatch {
    /// Has the reloader read the directory and the side configs again now, as a settled file
    /// change would (an operator's SIGHUP).
    pub fn reconcile_now(&self) {
        let _ = self.wake.send(Wake::Reconcile);
    }
}

impl Reloader {
    /// Watches the directory and reconciles once the watch is set up and then on every settled
    /// change, and rolls back what the pipeline asks to, on a thread of its own.
    pub fn watch(mut self) -> Result<DirectoryWatch> {
        let wakes = self
            .feed
            .wakes
            .take()
            .context("the plugin directory is watched already")?;
        let files = self.feed.wake.clone();
        let wake = self.feed.wake.clone();
        let handler = move |result: DebounceEventResult| {
            let _ = files.send(Wake::Files(result));
        };
        let mut debouncer =
            new_debouncer(DEBOUNCE, None, handler).context("cannot start the plugin directory watcher")?;
        debouncer
            .watch(&self.dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch plugin directory {}", quoted_path(&self.dir)))?;
        std::thread::Builder::new()
            .name("pulse-reload".into())
            .spawn(move || {
                // A file placed between the first scan and the watch raised no event: look once
                // more now that every later change will.
                if let Err(e) = self.reconcile() {
                    error!("cannot reload plugins: {e:#}");
                }
                for wake in wakes {
                    match wake {
                        Wake::RollBack(rollback) => self.roll_back(&rollback),
                        Wake::Reconcile => {
                            if let Err(e) = self.reconcile() {
                                error!("cannot reload plugins: {e:#}");
                            }
                        }
                        Wake::Files(Ok(events)) if events.iter().any(is_settled_plugin_change) => {
                            if let Err(e) = self.reconcile() {
                                error!("cannot reload plugins: {e:#}");
                            }
                        }
                        Wake::Files(Ok(_)) => {}
                        Wake::Files(Err(errors)) => {
                            for e in errors {
                                warn!(dir = %quoted_path(&self.dir), "plugin directory watch error: {e}");
                            }
                        }
                    }
                }
            })
            .context("cannot start the reload thread")?;
        Ok(DirectoryWatch {
            _debouncer: debouncer,
            wake,
        })
    }
}

/// True for an event that may change what the directory serves, once a write is complete:
/// a file created, removed or renamed, or closed after writing. A bare data write (a `cp`
/// in progress) is not, since its close will follow. The `shadow/` folder appearing,
/// disappearing or renamed is one too: files written into a new folder before the watch on
/// it is set up raise no event of their own, so the folder's contents are read then.
fn is_settled_plugin_change(event: &DebouncedEvent) -> bool {
    let settled = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    let concerns_plugins = |p: &PathBuf| {
        !is_hidden(p) && p.extension().is_some_and(|e| e == "wasm" || e == "toml" || e == "sig")
            || p.file_name().is_some_and(|name| name == SHADOW_DIR)
    };
    // An overflowed event queue asks for a rescan: reconcile, whatever changed.
    event.need_rescan() || settled && event.paths.iter().any(concerns_plugins)
}
