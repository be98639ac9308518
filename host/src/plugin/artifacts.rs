//! A cache of compiled plugins on disk, so a restart or a swap back to a version already seen
//! loads in a fraction of a millisecond instead of compiling (~50 ms per plugin here).
//!
//! Entries are keyed by the SHA-256 of the wasm and the engine's compatibility hash (wasmtime
//! version and settings), so an artifact is only ever loaded by an engine that can run it.
//! The directory must be writable by the daemon alone: loading an artifact trusts its contents.
//!
//! The directory is bounded: after each store, and when the cache is opened, the least recently
//! used artifacts (by modification time, which a load refreshes) are removed until the rest
//! fit `max_bytes`. Every swap of a new version adds one, so without a bound the directory
//! grows for as long as strategies change. The artifact of a version still staged in this
//! process (serving, shadow, or kept for a rollback) is never removed by it, and is marked used
//! again at each pruning, so another process sharing the directory removes it last.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tracing::{info, warn};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The file name ending of a compiled artifact.
const ARTIFACT_EXTENSION: &str = "cwasm";

/// How old a half-written artifact (a `*.tmpPID` file whose writer died) must be to be removed;
/// younger ones may still be being written by another process sharing the directory.
const STALE_PARTIAL: Duration = Duration::from_secs(600);

/// Compiles components, reusing earlier compilations from disk when it can.
pub struct ArtifactCache {
    /// Where artifacts are kept; `None` when there is no usable directory.
    dir: Option<PathBuf>,
    /// The engine's compatibility hash, in every artifact's name.
    compatibility: String,
    /// Most bytes of artifacts the directory keeps besides the one just stored.
    max_bytes: u64,
    /// The artifacts handed out, each while a staged version holds its lease.
    leases: Mutex<HashMap<PathBuf, Weak<ArtifactLease>>>,
}

/// Held by a staged version for as long as it lives: its compiled artifact is not pruned
/// meanwhile, so a restart loads it instead of compiling.
#[derive(Debug)]
pub struct ArtifactLease;

/// A component, with whether it came from the cache and the lease on its artifact.
pub struct Compiled {
    /// The component.
    pub component: Component,
    /// Whether it was loaded from the cache (else compiled).
    pub cached: bool,
    /// The lease on its artifact; `None` without a cache directory.
    pub lease: Option<Arc<ArtifactLease>>,
}

impl ArtifactCache {
    /// A cache in `dir` (created if missing) holding at most `max_bytes` of artifacts; `None`
    /// compiles every time.
    pub fn new(engine: &Engine, dir: Option<PathBuf>, max_bytes: u64) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = dir.and_then(|dir| match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                warn!(dir = %dir.display(), "compile cache disabled: cannot create its directory: {e}");
                None
            }
        });
        if let Some(dir) = &dir {
            prune(dir, max_bytes, &[]);
        }
        Self {
            dir,
            compatibility: format!("{:016x}", hasher.finish()),
            max_bytes,
            leases: Mutex::default(),
        }
    }

    /// The component for `bytes`, whose SHA-256 is `hash`, from the cache or compiled (and
    /// stored).
    pub fn component(&self, engine: &Engine, bytes: &[u8], hash: &str) -> Result<Compiled> {
        let Some(path) = self.path(hash) else {
            let component = Component::new(engine, bytes)?;
            return Ok(Compiled {
                component,
                cached: false,
                lease: None,
            });
        };
        let lease = Some(self.lease(&path));
        if path.is_file() {
            // SAFETY: the file was written by `precompile_component` of an engine with the same
            // compatibility hash (it is in the name), into a directory only the daemon writes.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    mark_used(&path);
                    return Ok(Compiled {
                        component,
                        cached: true,
                        lease,
                    });
                }
                // Pruned by another process sharing the directory: a plain miss.
                Err(_) if !path.exists() => {}
                Err(e) => warn!(file = %path.display(), "ignoring unusable compiled artifact: {e:#}"),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        // SAFETY: these bytes were produced by this engine a moment ago.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        match write_atomically(&path, &artifact) {
            Ok(()) => {
                if let Some(dir) = &self.dir {
                    let mut keep = self.leased();
                    keep.push(path.clone());
                    prune(dir, self.max_bytes, &keep);
                }
            }
            Err(e) => warn!(file = %path.display(), "cannot store compiled artifact: {e:#}"),
        }
        Ok(Compiled {
            component,
            cached: false,
            lease,
        })
    }

    /// The lease on the artifact at `path`: the one a staged version holds already, else a new
    /// one.
    fn lease(&self, path: &Path) -> Arc<ArtifactLease> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lease) = leases.get(path).and_then(Weak::upgrade) {
            return lease;
        }
        let lease = Arc::new(ArtifactLease);
        leases.insert(path.to_path_buf(), Arc::downgrade(&lease));
        lease
    }

    /// The artifacts a staged version still holds a lease on, each marked used now; leases let
    /// go are forgotten.
    fn leased(&self) -> Vec<PathBuf> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases.retain(|_, lease| lease.strong_count() > 0);
        leases.keys().inspect(|path| mark_used(path)).cloned().collect()
    }

    fn path(&self, hash: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{hash}-{}.{ARTIFACT_EXTENSION}", self.compatibility)))
    }
}

/// Marks an artifact as just used, so pruning keeps it over ones unused for longer. Best
/// effort: a directory the daemon may not write only loses the ordering.
fn mark_used(path: &Path) {
    let touched = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        warn!(file = %path.display(), "cannot mark compiled artifact as used: {e}");
    }
}

/// One artifact file found in the directory.
struct Found {
    /// Its path.
    path: PathBuf,
    /// Its size in bytes.
    bytes: u64,
    /// When it was stored or last loaded.
    used: SystemTime,
}

/// Removes the least recently used artifacts in `dir` until the rest fit `max_bytes`, never
/// those in `keep` (the artifact just stored and those leased, which may alone exceed the
/// bound), and half-written files older than [`STALE_PARTIAL`]. Other files are left alone.
/// Logs what it removed.
fn prune(dir: &Path, max_bytes: u64, keep: &[PathBuf]) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            warn!(dir = %dir.display(), "cannot list the compile cache to bound it: {e}");
            return;
        }
    };
    let now = SystemTime::now();
    let mut artifacts = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(now);
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extension == ARTIFACT_EXTENSION {
            artifacts.push(Found {
                path,
                bytes: meta.len(),
                used,
            });
        } else if is_partial(extension) && now.duration_since(used).unwrap_or_default() > STALE_PARTIAL {
            remove(&path);
        }
    }
    artifacts.sort_by_key(|found| found.used);
    let mut total: u64 = artifacts.iter().map(|found| found.bytes).sum();
    let (mut removed, mut freed) = (0usize, 0u64);
    for found in &artifacts {
        if total <= max_bytes {
            break;
        }
        if keep.contains(&found.path) || !remove(&found.path) {
            continue;
        }
        total -= found.bytes;
        removed += 1;
        freed += found.bytes;
    }
    if removed > 0 {
        info!(
            dir = %dir.display(),
            removed,
            freed_mib = freed >> 20,
            kept_mib = total >> 20,
            "compile cache: removed the least recently used compiled plugins to stay within compile_cache_max_mib"
        );
    }
}

/// Whether a file name ending is [`write_atomically`]'s temporary one (`tmp` and a pid).
fn is_partial(extension: &str) -> bool {
    extension
        .strip_prefix("tmp")
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes a file, logging a failure; `true` when it is gone.
fn remove(path: &Path) -> bool {
    match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            warn!(file = %path.display(), "cannot remove from the compile cache: {e}");
            false
        }
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} into place", tmp.display()))
}

#[cfg(test)]
mod tests;
