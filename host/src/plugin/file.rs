//! A plugin file as found on disk, with the side config beside it, before staging.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};

use crate::shared::call::Fingerprint;

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
    /// Reads `path` and its side config `<stem>.toml`, if any.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes: Arc<[u8]> = std::fs::read(path).context("cannot read the file")?.into();
        let side = path.with_extension("toml");
        let side_config = match std::fs::read_to_string(&side) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(anyhow!("cannot read its config {}: {e}", side.display())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            fingerprint: Fingerprint {
                hash: format!("{:x}", Sha256::digest(&bytes)),
                side_config,
            },
            bytes,
        })
    }
}
