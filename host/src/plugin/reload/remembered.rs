//! Rollbacks a restart keeps: each failing file's fingerprint and why it was rolled back, and
//! the version it replaced (its contents, side config and signature), in the state directory's
//! `rolled-back/` folder. A file still in that fingerprint is refused at start as it was
//! before, and the version it replaced serves in its place; a changed file is staged as usual
//! and its entry forgotten.
//!
//! What is saved there is run at the next start, so it is trusted only as far as the host key
//! vouches for it: the index carries a tag under the key, and each saved version must hash to the
//! fingerprint the index records for it. A planted or changed index is ignored whole; a saved
//! version that does not match is not run. Either is said in one line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::plugin::file::{read_signature, PluginSource, MAX_PLUGIN_BYTES, MAX_SIDE_CONFIG_BYTES};
use crate::plugin::host_key::{parse_tag, HostKey};
use crate::plugin::loaded::LoadedPlugin;
use crate::plugin::signature::signature_path;
use crate::shared::call::{Fingerprint, Rollback};
use crate::shared::files;
use crate::shared::text::{hex, quoted_path};

/// The index of the folder, beside the saved versions.
const INDEX: &str = "index.json";

/// The largest index read: a few hundred bytes per plugin file.
const MAX_INDEX_BYTES: u64 = 1 << 20;

/// What the index's tag is made for, so no other tag of the host key's verifies as one.
const TAG_LABEL: &str = "pulse rolled-back index 1";

/// The index as saved: the entries, and their tag under the host key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    /// By plugin file name.
    entries: BTreeMap<String, Entry>,
    /// The HMAC of the entries (as [`entries_bytes`] encodes them), hex-encoded.
    tag: String,
}

/// One rolled-back file, as saved.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The failing version's content hash...
    hash: String,
    /// ...and side config, which together refuse the file.
    side_config: Option<String>,
    /// Why it was rolled back, with the cycle.
    reason: String,
    /// When, ms since the Unix epoch.
    at_ms: i64,
    /// The fingerprint of the version it replaced, saved beside the index: what the saved
    /// files must match to run.
    saved: Fingerprint,
}

/// The rollbacks remembered across restarts; without a state directory, none.
pub(super) struct Remembered {
    /// `STATE_DIR/rolled-back`.
    dir: Option<PathBuf>,
    /// What authenticates the index; `None` with no directory.
    key: Option<HostKey>,
    /// By plugin file name.
    entries: BTreeMap<String, Entry>,
}

impl Remembered {
    /// Nothing remembered, and nothing saved.
    pub(super) fn none() -> Self {
        Self {
            dir: None,
            key: None,
            entries: BTreeMap::new(),
        }
    }

    /// The rollbacks saved under `state_dir`, trusted under `key`; an index that cannot be
    /// read or does not verify is said and ignored.
    pub(super) fn load(state_dir: &Path, key: HostKey) -> Self {
        let dir = state_dir.join("rolled-back");
        let index = dir.join(INDEX);
        let entries = match read_index(&index, &key) {
            Ok(entries) => entries,
            Err(e) => {
                warn!(file = %quoted_path(&index), "ignoring the rollbacks saved in {}: {e:#}", quoted_path(&index));
                BTreeMap::new()
            }
        };
        Self {
            dir: Some(dir),
            key: Some(key),
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

    /// The version the refused file at `path` replaced, as a source at `path`, if it was saved
    /// and still matches the fingerprint the index records; a saved version that does not is
    /// said and not run.
    pub(super) fn restore(&self, path: &Path) -> Option<PluginSource> {
        let (dir, name) = (self.dir.as_ref()?, file_name(path));
        let entry = self.entries.get(&name)?;
        let saved = dir.join(&name);
        match read_saved(&saved, &entry.saved) {
            Ok(source) => Some(PluginSource {
                path: path.to_path_buf(),
                ..source
            }),
            Err(e) => {
                warn!(
                    file = %quoted_path(&saved),
                    "not restoring the version saved for {}: {e:#}",
                    quoted_path(path)
                );
                None
            }
        }
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
            saved: previous.fingerprint.clone(),
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
        files::create_dir_all(dir, 0o700).with_context(|| format!("cannot create {}", quoted_path(dir)))?;
        let wasm = dir.join(name);
        write(&wasm, &previous.bytes)?;
        match &previous.fingerprint.side_config {
            Some(config) => write(&wasm.with_extension("toml"), config.as_bytes())?,
            None => {
                let _ = std::fs::remove_file(wasm.with_extension("toml"));
            }
        }
        match &previous.fingerprint.signature {
            Some(signature) => write(&signature_path(&wasm), signature.as_bytes())?,
            None => {
                let _ = std::fs::remove_file(signature_path(&wasm));
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
        let (Some(dir), Some(key)) = (&self.dir, &self.key) else {
            return Ok(());
        };
        files::create_dir_all(dir, 0o700).with_context(|| format!("cannot create {}", quoted_path(dir)))?;
        let index = Index {
            tag: hex(&key.tag(TAG_LABEL, &[&entries_bytes(&self.entries)])),
            entries: self.entries.clone(),
        };
        write(&dir.join(INDEX), &serde_json::to_vec_pretty(&index)?)
    }
}

/// The entries as their tag covers them: compact JSON, in the map's order.
fn entries_bytes(entries: &BTreeMap<String, Entry>) -> Vec<u8> {
    serde_json::to_vec(entries).expect("entries encode as JSON")
}

/// The entries of the index at `index`, if its tag verifies under `key`; none without an index.
fn read_index(index: &Path, key: &HostKey) -> Result<BTreeMap<String, Entry>> {
    let bytes = match files::read_bounded(index, MAX_INDEX_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e.into()),
    };
    let index: Index = serde_json::from_slice(&bytes)
        .context("it is not an index of this version (one saved before rollbacks were authenticated is not trusted)")?;
    let tag = parse_tag(&index.tag)?;
    if !key.verifies(TAG_LABEL, &[&entries_bytes(&index.entries)], &tag) {
        return Err(anyhow!(
            "its tag does not verify under this host's key: it was changed since it was saved, or written by someone else"
        ));
    }
    Ok(index.entries)
}

/// The version saved at `saved` (and its side config beside it), if it is the one whose
/// fingerprint is `expected`.
fn read_saved(saved: &Path, expected: &Fingerprint) -> Result<PluginSource> {
    let bytes: Arc<[u8]> = files::read_bounded(saved, MAX_PLUGIN_BYTES)?.into();
    let side_config = match files::read_text_bounded(&saved.with_extension("toml"), MAX_SIDE_CONFIG_BYTES) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(anyhow!("its config: {e}")),
    };
    let fingerprint = Fingerprint {
        hash: format!("{:x}", Sha256::digest(&bytes)),
        side_config,
        signature: read_signature(saved)?,
    };
    if fingerprint.hash != expected.hash {
        return Err(anyhow!(
            "its bytes hash to {}, not to {} as the index records",
            &fingerprint.hash[..12],
            expected.hash.get(..12).unwrap_or(&expected.hash)
        ));
    }
    if fingerprint.side_config != expected.side_config {
        return Err(anyhow!("its config is not the one the index records"));
    }
    if fingerprint.signature != expected.signature {
        return Err(anyhow!("its signature is not the one the index records"));
    }
    Ok(PluginSource {
        path: saved.to_path_buf(),
        bytes,
        fingerprint,
    })
}

/// Writes one of the folder's files, readable by this user alone.
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    files::write_atomically(path, bytes, 0o600).with_context(|| format!("cannot write {}", quoted_path(path)))
}

/// `path`'s file name.
fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}
