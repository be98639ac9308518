//! Files refused as they are: rejected at a stage, or rolled back. An unchanged refused file is
//! not staged again on every directory event; one written again with the same contents (a
//! re-copy, a `pulse promote` of the same build) is refused again, and that is said, so the
//! one who wrote it is not left guessing.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::lines::log_refused_again;
use crate::plugin::file::PluginSource;
use crate::plugin::loaded::LoadedPlugin;
use crate::shared::call::Fingerprint;

/// Which write of a file was seen: a copy over it changes its modification time, a rename
/// over it its inode.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    /// The file's inode.
    inode: u64,
    /// Its modification time.
    modified: Option<SystemTime>,
}

impl Written {
    /// The write of `path` now on disk, if it can be read.
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            inode: meta.ino(),
            modified: meta.modified().ok(),
        })
    }
}

/// One refused version of a file.
#[derive(Debug)]
struct Refusal {
    /// The version refused.
    fingerprint: Fingerprint,
    /// The write of the file last seen with it.
    written: Option<Written>,
    /// Why, as the log says it: "rejected at compile: …", "rolled back in cycle 12: …".
    why: String,
}

/// What a refused file's latest write means.
#[derive(Debug, PartialEq, Eq)]
enum Seen<'a> {
    /// Not refused in this version: stage it.
    New,
    /// The very write already refused: nothing to do or say.
    Unchanged,
    /// The same version written again: refused again, for this reason.
    Again(&'a str),
}

/// The refused files of the plugin directory, by path.
#[derive(Debug, Default)]
pub(super) struct RefusedFiles {
    /// Each refused file's refusal.
    by_path: HashMap<PathBuf, Refusal>,
}

impl RefusedFiles {
    /// Refuses `path` in version `fingerprint`, as written now, for `why`.
    pub(super) fn insert(&mut self, path: &Path, fingerprint: &Fingerprint, why: String) {
        let refusal = Refusal {
            fingerprint: fingerprint.clone(),
            written: Written::of(path),
            why,
        };
        self.by_path.insert(path.to_path_buf(), refusal);
    }

    /// Whether `source` stays refused as it is; the same version written again is logged as
    /// refused again, with `serving`, the version still serving.
    pub(super) fn holds(&mut self, source: &PluginSource, serving: Option<&LoadedPlugin>) -> bool {
        match self.see(&source.path, &source.fingerprint) {
            Seen::New => false,
            Seen::Unchanged => true,
            Seen::Again(why) => {
                log_refused_again(source, why, serving);
                true
            }
        }
    }

    /// What `path`, now in version `fingerprint`, is to the refusals; a write seen again is
    /// remembered, so it is said once.
    fn see(&mut self, path: &Path, fingerprint: &Fingerprint) -> Seen<'_> {
        let Some(refusal) = self.by_path.get_mut(path).filter(|r| &r.fingerprint == fingerprint) else {
            return Seen::New;
        };
        let written = Written::of(path);
        if written == refusal.written {
            return Seen::Unchanged;
        }
        refusal.written = written;
        Seen::Again(&refusal.why)
    }

    /// Forgets the refusal of `path`: another version of it staged.
    pub(super) fn remove(&mut self, path: &Path) {
        self.by_path.remove(path);
    }

    /// Forgets the refusals of files no longer there.
    pub(super) fn retain(&mut self, listed: impl Fn(&Path) -> bool) {
        self.by_path.retain(|path, _| listed(path));
    }

    /// Whether `path` is refused in some version.
    #[cfg(test)]
    pub(super) fn contains(&self, path: &Path) -> bool {
        self.by_path.contains_key(path)
    }

    /// Whether no file is refused.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version's fingerprint, without a side config.
    fn fingerprint(hash: &str) -> Fingerprint {
        Fingerprint {
            hash: hash.to_string(),
            side_config: None,
            signature: None,
        }
    }

    #[test]
    fn the_same_version_written_again_is_said_once_and_another_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trend.wasm");
        std::fs::write(&path, b"bad").unwrap();
        let mut refused = RefusedFiles::default();
        refused.insert(&path, &fingerprint("bad"), "rejected at compile: no".into());
        assert_eq!(refused.see(&path, &fingerprint("bad")), Seen::Unchanged);

        // Promoted again: the same bytes renamed over the file.
        let again = dir.path().join("again.wasm");
        std::fs::write(&again, b"bad").unwrap();
        std::fs::rename(&again, &path).unwrap();
        assert_eq!(
            refused.see(&path, &fingerprint("bad")),
            Seen::Again("rejected at compile: no")
        );
        assert_eq!(refused.see(&path, &fingerprint("bad")), Seen::Unchanged, "said once");
        assert_eq!(refused.see(&path, &fingerprint("good")), Seen::New);

        refused.retain(|p| p != path);
        assert!(refused.is_empty());
    }
}
