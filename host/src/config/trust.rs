//! `[trust]`: whether plugins must be signed, and by whose keys. Off by default; on, a plugin
//! file serves only with a signature (`NAME.wasm.sig`, from `pulse sign`) that one of `keys`
//! verifies.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Deserialize;

/// Whether plugins must be signed, and the keys trusted to sign them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// Refuse plugin files that no key of `keys` signed.
    pub require_signatures: bool,
    /// The public key files (`NAME.pub`, from `pulse keygen`) whose signatures are trusted.
    pub keys: Vec<PathBuf>,
}

/// The most trusted keys listed: a team's signers, not a registry.
const MAX_KEYS: usize = 64;

impl TrustConfig {
    /// Fails when signatures are required without a key to check them, or too many keys are
    /// listed.
    pub fn check(&self) -> Result<()> {
        if self.require_signatures && self.keys.is_empty() {
            bail!("[trust] require_signatures needs at least one public key in [trust] keys");
        }
        if self.keys.len() > MAX_KEYS {
            bail!("[trust] keys lists {} keys, more than {MAX_KEYS}", self.keys.len());
        }
        Ok(())
    }
}
