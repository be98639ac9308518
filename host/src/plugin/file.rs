//! A plugin file as found on disk, with the side config beside it, before staging. Shadow
//! versions live in the plugin directory's `shadow/` folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};

use super::signature::{signature_path, MAX_SIGNATURE_BYTES};
use crate::shared::call::Fingerprint;
use crate::shared::files;
use crate::shared::text::quoted_path;

/// The largest plugin file read. Components embedding a language runtime are the big ones
/// (about 12 MB for JavaScript, 18 MB for Python); this leaves room for their libraries.
pub const MAX_PLUGIN_BYTES: u64 = 128 << 20;

/// The largest side config `NAME.toml` read: a plugin's settings, not its data.
pub const MAX_SIDE_CONFIG_BYTES: u64 = 1 << 20;

/// The plugin directory's folder of shadow versions.
pub const SHADOW_DIR: &str = "shadow";

/// Whether the plugin file at `path` is a shadow version: it lies in a `shadow/` folder.
pub fn is_shadow_file(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == SHADOW_DIR)
}

/// A plugin file as found on disk, before staging.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// Its contents.
    pub bytes: Arc<[u8]>,
    /// What tells one version from another: content hash and side config.
    pub fingerprint: Fingerprint,
}

impl PluginSource {
    /// Reads `path`, its side config `<stem>.toml` and its signature `<file>.sig`, if any. A
    /// shadow version without a side config of its own takes the serving plugin's, beside its
    /// folder: it runs on the config it would serve with (a signature is never borrowed). Each file is read as [`files::read_bounded`] reads, within
    /// [`MAX_PLUGIN_BYTES`] and [`MAX_SIDE_CONFIG_BYTES`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes: Arc<[u8]> = files::read_bounded(path, MAX_PLUGIN_BYTES)
            .context("cannot read the file")?
            .into();
        let mut side_config = read_side_config(&path.with_extension("toml"))?;
        if side_config.is_none() && is_shadow_file(path) {
            if let (Some(folder), Some(name)) = (path.parent().and_then(Path::parent), path.file_name()) {
                side_config = read_side_config(&folder.join(name).with_extension("toml"))?;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            fingerprint: Fingerprint {
                hash: format!("{:x}", Sha256::digest(&bytes)),
                side_config,
                signature: read_signature(path)?,
            },
            bytes,
        })
    }
}

/// The detached signature beside the plugin file `wasm`, if there is one.
pub(super) fn read_signature(wasm: &Path) -> Result<Option<String>> {
    let path = signature_path(wasm);
    match files::read_text_bounded(&path, MAX_SIGNATURE_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read its signature {}: {e}", quoted_path(&path))),
    }
}

/// The side config at `side`, if there is one.
fn read_side_config(side: &Path) -> Result<Option<String>> {
    match files::read_text_bounded(side, MAX_SIDE_CONFIG_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read its config {}: {e}", quoted_path(side))),
    }
}
