//! A cache of compiled plugins on disk, so a restart or a swap back to a version already seen
//! loads in a fraction of a millisecond instead of compiling (~50 ms per plugin here).
//!
//! Entries are keyed by the SHA-256 of the wasm and the engine's compatibility hash (wasmtime
//! version and settings), so an artifact is only ever loaded by an engine that can run it.
//! The directory must be writable by the daemon alone: loading an artifact trusts its contents.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tracing::warn;
use wasmtime::component::Component;
use wasmtime::Engine;

/// Compiles components, reusing earlier compilations from disk when it can.
pub struct ArtifactCache {
    dir: Option<PathBuf>,
    compatibility: String,
}

impl ArtifactCache {
    /// A cache in `dir` (created if missing); `None` compiles every time.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = dir.and_then(|dir| match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                warn!(dir = %dir.display(), "compile cache disabled: cannot create its directory: {e}");
                None
            }
        });
        Self {
            dir,
            compatibility: format!("{:016x}", hasher.finish()),
        }
    }

    /// The component for `bytes`, whose SHA-256 is `hash`; `true` when it came from the cache.
    pub fn component(&self, engine: &Engine, bytes: &[u8], hash: &str) -> Result<(Component, bool)> {
        let Some(path) = self.path(hash) else {
            return Ok((Component::new(engine, bytes)?, false));
        };
        if path.is_file() {
            // SAFETY: the file was written by `precompile_component` of an engine with the same
            // compatibility hash (it is in the name), into a directory only the daemon writes.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => warn!(file = %path.display(), "ignoring unusable compiled artifact: {e:#}"),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        // SAFETY: these bytes were produced by this engine a moment ago.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        if let Err(e) = write_atomically(&path, &artifact) {
            warn!(file = %path.display(), "cannot store compiled artifact: {e:#}");
        }
        Ok((component, false))
    }

    fn path(&self, hash: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{hash}-{}.cwasm", self.compatibility)))
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} into place", tmp.display()))
}
