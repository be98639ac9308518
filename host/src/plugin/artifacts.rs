//! A cache of compiled plugins on disk, so a restart or a swap back to a version already seen
//! loads in a fraction of a millisecond instead of compiling (~50 ms per plugin here).
//!
//! Entries are keyed by the SHA-256 of the wasm and the engine's compatibility hash (wasmtime
//! version and settings), so an artifact is only ever loaded by an engine that can run it.
//!
//! Loading an artifact runs its native code, so nothing is loaded that this host's user did not
//! compile from this exact wasm:
//! - each artifact carries an HMAC-SHA256 under the [`HostKey`] over the wasm's hash, the
//!   engine's compatibility hash and the compiled bytes; an artifact changed, swapped for
//!   another plugin's or planted by anyone without the key fails it;
//! - the directory and each artifact must not be writable by another user (or the cache is not
//!   used at all, and every plugin compiles in memory);
//! - an artifact is read into memory, checked there, and loaded from there, so a file changed or
//!   truncated underneath a serving plugin cannot reach it (a mapped file would end the process
//!   with SIGBUS).
//!
//! An artifact that fails any check is compiled again from the wasm, with one line saying why,
//! and stored over the bad one.
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

use anyhow::Result;
use tracing::{info, warn};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::host_key::{HostKey, TAG_BYTES};
use crate::shared::files::{self, RegularFile};
use crate::shared::text::quoted_path;

/// The file name ending of a compiled artifact, by this version and by earlier ones (whose
/// unauthenticated artifacts are never loaded, only pruned in their turn).
const ARTIFACT_EXTENSION: &str = "cwasm";

/// What this version's artifacts are named with before [`ARTIFACT_EXTENSION`]: the format, a
/// tag then the compiled bytes.
const FORMAT: &str = "auth";

/// What an artifact's tag is made for, so no other tag of the host key's verifies as one.
const TAG_LABEL: &str = "pulse compiled artifact 1";

/// The largest artifact read back. Compiled code runs to a few times its wasm (a Python
/// plugin's 18 MB component compiles to about 50 MB); a larger file is not one of ours.
pub const MAX_ARTIFACT_BYTES: u64 = 512 << 20;

/// How old a half-written artifact (a `*.tmpPID_N` file whose writer died) must be to be removed;
/// younger ones may still be being written by another process sharing the directory.
const STALE_PARTIAL: Duration = Duration::from_secs(600);

/// Compiles components, reusing earlier compilations from disk when it can.
pub struct ArtifactCache {
    /// Where artifacts are kept; `None` when there is no usable directory or no host key.
    dir: Option<PathBuf>,
    /// What authenticates each artifact; `None` with no directory.
    key: Option<HostKey>,
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
    /// A cache in `dir` (created if missing, mode 0700) holding at most `max_bytes` of
    /// artifacts, each authenticated by `key`; without either, or with a directory another user
    /// may change, every plugin compiles in memory.
    pub fn new(engine: &Engine, dir: Option<PathBuf>, max_bytes: u64, key: Option<HostKey>) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = dir.filter(|_| key.is_some()).and_then(usable);
        if let Some(dir) = &dir {
            prune(dir, max_bytes, &[]);
        }
        Self {
            key: key.filter(|_| dir.is_some()),
            dir,
            compatibility: format!("{:016x}", hasher.finish()),
            max_bytes,
            leases: Mutex::default(),
        }
    }

    /// The component for `bytes`, whose SHA-256 is `hash`, from the cache or compiled (and
    /// stored).
    pub fn component(&self, engine: &Engine, bytes: &[u8], hash: &str) -> Result<Compiled> {
        let (Some(path), Some(key)) = (self.path(hash), &self.key) else {
            let component = Component::new(engine, bytes)?;
            return Ok(Compiled {
                component,
                cached: false,
                lease: None,
            });
        };
        let lease = Some(self.lease(&path));
        match self.load(engine, key, &path, hash) {
            Ok(Some(component)) => {
                mark_used(&path);
                return Ok(Compiled {
                    component,
                    cached: true,
                    lease,
                });
            }
            Ok(None) => {}
            Err(why) => warn!(
                file = %quoted_path(&path),
                "compile cache: refusing the compiled artifact {}: {why}; compiling the plugin again from its wasm",
                quoted_path(&path)
            ),
        }
        let artifact = engine.precompile_component(bytes)?;
        // SAFETY: these bytes were produced by this engine a moment ago.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        if let Err(e) = self.store(key, &path, hash, &artifact) {
            warn!(file = %quoted_path(&path), "compile cache: cannot store the compiled artifact {}: {e}", quoted_path(&path));
        }
        Ok(Compiled {
            component,
            cached: false,
            lease,
        })
    }

    /// The artifact at `path` for the wasm whose SHA-256 is `hash`, if there is one and it
    /// passes every check; `Ok(None)` when there is none (never stored, or pruned by another
    /// process sharing the directory), `Err` saying why one is refused.
    fn load(&self, engine: &Engine, key: &HostKey, path: &Path, hash: &str) -> Result<Option<Component>, String> {
        let file = match RegularFile::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if let Some(why) = files::writable_by_others(file.metadata()) {
            return Err(why);
        }
        let stored = file.read_all(MAX_ARTIFACT_BYTES).map_err(|e| e.to_string())?;
        let Some((tag, artifact)) = stored.split_at_checked(TAG_BYTES) else {
            return Err(format!("it is {} bytes, too short to hold its tag", stored.len()));
        };
        if !key.verifies(
            TAG_LABEL,
            &[hash.as_bytes(), self.compatibility.as_bytes(), artifact],
            tag,
        ) {
            return Err(
                "its tag does not verify under this host's key: it was changed since it was \
                 stored, stored for another wasm, or written by someone else"
                    .to_string(),
            );
        }
        // SAFETY: the tag proves these bytes are what this host's user compiled from this exact
        // wasm with an engine of this compatibility hash; they are in this process's memory,
        // which the file's later changes cannot reach.
        unsafe { Component::deserialize(engine, artifact) }
            .map(Some)
            .map_err(|e| format!("{e:#}"))
    }

    /// Stores `artifact`, compiled from the wasm whose SHA-256 is `hash`, at `path` with its tag,
    /// then bounds the directory.
    fn store(&self, key: &HostKey, path: &Path, hash: &str, artifact: &[u8]) -> std::io::Result<()> {
        if artifact.len() as u64 + TAG_BYTES as u64 > MAX_ARTIFACT_BYTES {
            return Err(std::io::Error::other(format!(
                "it is {} bytes, above the {MAX_ARTIFACT_BYTES} bytes an artifact is read back at",
                artifact.len()
            )));
        }
        let tag = key.tag(TAG_LABEL, &[hash.as_bytes(), self.compatibility.as_bytes(), artifact]);
        files::write_atomically(path, &[&tag[..], artifact].concat(), 0o600)?;
        if let Some(dir) = &self.dir {
            let mut keep = self.leased();
            keep.push(path.to_path_buf());
            prune(dir, self.max_bytes, &keep);
        }
        Ok(())
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
            .map(|dir| dir.join(format!("{hash}-{}.{FORMAT}.{ARTIFACT_EXTENSION}", self.compatibility)))
    }
}

/// `dir`, created if missing, if no other user may change it; else `None`, said.
fn usable(dir: PathBuf) -> Option<PathBuf> {
    let checked = files::create_dir_all(&dir, 0o700)
        .map_err(|e| format!("cannot create it: {e}"))
        .and_then(|()| std::fs::metadata(&dir).map_err(|e| format!("cannot inspect it: {e}")))
        .and_then(|meta| match files::writable_by_others(&meta) {
            Some(why) => Err(format!(
                "{why}, and it would run what anyone put there (chmod go-w it, or name another)"
            )),
            None => Ok(()),
        });
    match checked {
        Ok(()) => Some(dir),
        Err(why) => {
            warn!(dir = %quoted_path(&dir), "compile cache disabled, every plugin compiles in memory: {}: {why}", quoted_path(&dir));
            None
        }
    }
}

/// Marks an artifact as just used, so pruning keeps it over ones unused for longer. Best
/// effort: a directory the daemon may not write only loses the ordering.
fn mark_used(path: &Path) {
    let touched = files::open_to_touch(path).and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        warn!(file = %quoted_path(path), "cannot mark compiled artifact as used: {e}");
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
            warn!(dir = %quoted_path(dir), "cannot list the compile cache to bound it: {e}");
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
        } else if files::is_temporary_extension(extension)
            && now.duration_since(used).unwrap_or_default() > STALE_PARTIAL
        {
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
            dir = %quoted_path(dir),
            removed,
            freed_mib = freed >> 20,
            kept_mib = total >> 20,
            "compile cache: removed the least recently used compiled plugins to stay within compile_cache_max_mib"
        );
    }
}

/// Removes a file, logging a failure; `true` when it is gone.
fn remove(path: &Path) -> bool {
    match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            warn!(file = %quoted_path(path), "cannot remove from the compile cache: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests;
