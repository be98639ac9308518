//! Rollbacks a restart keeps: each failing file's fingerprint and why it was rolled back, and
//! the version it replaced (its contents and side config), in the state directory's
//! `rolled-back/` folder. A file still in that fingerprint is refused at start as it was
//! before, and the version it replaced serves in its place; a changed file is staged as usual
//! and its entry forgotten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::plugin::artifacts::write_atomically;
use crate::plugin::file::PluginSource;
use crate::plugin::loaded::LoadedPlugin;
use crate::shared::call::{Fingerprint, Rollback};

/// The index of the folder, beside the saved versions.
const INDEX: &str = "index.json";

/// One rolled-back file, as saved.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// The failing version's content hash...
    hash: String,
    /// ...and side config, which together refuse the file.
    side_config: Option<String>,
    /// Why it was rolled back, with the cycle.
    reason: String,
    /// When, ms since the Unix epoch.
    at_ms: i64,
}

/// The rollbacks remembered across restarts; without a state directory, none.
pub(super) struct Remembered {
    /// `STATE_DIR/rolled-back`.
    dir: Option<PathBuf>,
    /// By plugin file name.
    entries: BTreeMap<String, Entry>,
}

impl Remembered {
    /// Nothing remembered, and nothing saved.
    pub(super) fn none() -> Self {
        Self {
            dir: None,
            entries: BTreeMap::new(),
        }
    }

    /// The rollbacks saved under `state_dir`; an unreadable index is said and ignored.
    pub(super) fn load(state_dir: &Path) -> Self {
        let dir = state_dir.join("rolled-back");
        let entries = match std::fs::read(dir.join(INDEX)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(dir = %dir.display(), "ignoring the rollbacks saved in {}: {e}", dir.display());
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Self {
            dir: Some(dir),
            entries,
        }
    }

    /// Whether the file at `path`, in version `fingerprint`, was rolled back.
    pub(super) fn refuses(&self, path: &Path, fingerprint: &Fingerprint) -> Option<&str> {
        let entry = self.entries.get(&file_name(path))?;
        (entry.hash == fingerprint.hash && entry.side_config == fingerprint.side_config)
            .then_some(entry.reason.as_str())
    }

    /// Forgets the entry of `path`: another version of the file has staged.
    pub(super) fn forget(&mut self, path: &Path) {
        if self.entries.remove(&file_name(path)).is_some() {
            self.save_index();
        }
    }

    /// The version the refused file at `path` replaced, as a source at `path`, if saved.
    pub(super) fn restore(&self, path: &Path) -> Option<PluginSource> {
        let dir = self.dir.as_ref()?;
        let name = file_name(path);
        let bytes: Arc<[u8]> = std::fs::read(dir.join(&name)).ok()?.into();
        let side_config = std::fs::read_to_string(dir.join(&name).with_extension("toml")).ok();
        Some(PluginSource {
            path: path.to_path_buf(),
            fingerprint: Fingerprint {
                hash: format!("{:x}", Sha256::digest(&bytes)),
                side_config,
            },
            bytes,
        })
    }

    /// Remembers that `bad` was rolled back to `previous` as `rollback` says, saving
    /// `previous` first; a failure to save is said, and the rollback then holds until a
    /// restart only.
    pub(super) fn remember(&mut self, bad: &LoadedPlugin, previous: &LoadedPlugin, rollback: &Rollback) {
        let name = file_name(&bad.path);
        let entry = Entry {
            hash: bad.fingerprint.hash.clone(),
            side_config: bad.fingerprint.side_config.clone(),
            reason: rollback.cause(),
            at_ms: crate::shared::clock::now_ms(),
        };
        if let Err(e) = self.save(&name, previous, entry) {
            warn!(plugin = %bad.id, "cannot save the rollback of {name}, so a restart would not keep it: {e:#}");
        }
    }

    /// Saves `previous` as the version to restore for `name`, then `entry` in the index.
    fn save(&mut self, name: &str, previous: &LoadedPlugin, entry: Entry) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let wasm = dir.join(name);
        write_atomically(&wasm, &previous.bytes)?;
        match &previous.fingerprint.side_config {
            Some(config) => write_atomically(&wasm.with_extension("toml"), config.as_bytes())?,
            None => {
                let _ = std::fs::remove_file(wasm.with_extension("toml"));
            }
        }
        self.entries.insert(name.to_string(), entry);
        self.write_index()
    }

    fn save_index(&self) {
        if let Err(e) = self.write_index() {
            warn!("cannot save the rollbacks' index: {e:#}");
        }
    }

    fn write_index(&self) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomically(&dir.join(INDEX), &serde_json::to_vec_pretty(&self.entries)?)
    }
}

/// `path`'s file name.
fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}
