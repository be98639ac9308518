//! The host key: a secret of this daemon's user that authenticates what the daemon writes for
//! itself to read back and run later, the compiled plugins of the compile cache and the
//! rollbacks saved in the state directory. A file there is trusted only with a valid
//! HMAC-SHA256 under this key, so bytes planted or changed by anyone who does not hold the key
//! are refused (and recompiled, or forgotten) instead of run.
//!
//! The key is 32 random bytes, kept hex-encoded in one file outside the compile cache (by
//! default `STATE_DIR/host.key`, or the config's `host_key`), mode 0600. The daemon creates it
//! at its first start, atomically: two daemons starting together end with one key. `pulse
//! check` and `pulse replay` only read it; without it they do not share the cache.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::shared::files;
use crate::shared::text::{hex, unhex};

/// The key's length in bytes.
const KEY_BYTES: usize = 32;

/// The length of a tag [`HostKey::tag`] makes.
pub const TAG_BYTES: usize = 32;

/// The secret that authenticates the daemon's own files.
#[derive(Clone)]
pub struct HostKey {
    /// The key bytes; never logged.
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostKey(..)")
    }
}

impl HostKey {
    /// The key at `path`, created there (with its missing directories, mode 0700) if there is
    /// none yet. Fails when the file or its directory could be changed by another user, or does
    /// not hold a key.
    pub fn open_or_create(path: &Path) -> Result<Self> {
        match Self::open(path) {
            Err(e) if is_missing(&e) => {}
            opened => return opened,
        }
        let dir = path.parent().context("the host key's path has no directory")?;
        files::create_dir_all(dir, 0o700).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut key = [0u8; KEY_BYTES];
        rustix::rand::getrandom(&mut key, rustix::rand::GetRandomFlags::empty())
            .context("cannot draw random bytes for the host key")?;
        // Written whole under a temporary name, then linked into place: a link never replaces
        // a key another process created meanwhile, and then that one is read.
        let tmp = files::temporary_name(path);
        let written = files::create_exclusively(&tmp, 0o600).and_then(|mut file| {
            use std::io::Write;
            file.write_all(format!("{}\n", hex(&key)).as_bytes())?;
            file.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Self::open(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::open(path),
            Err(e) => Err(anyhow!("cannot create the host key {}: {e}", path.display())),
        }
    }

    /// The key at `path`, which must exist, be a regular file that only this process's user
    /// (or root) may read or write, in a directory no other user may change.
    pub fn open(path: &Path) -> Result<Self> {
        let file = files::RegularFile::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => anyhow!(Missing(path.display().to_string())),
            _ => anyhow!("cannot read the host key {}: {e}", path.display()),
        })?;
        let refused = |why: String| anyhow!("refusing the host key {}: {why}", path.display());
        if let Some(why) = files::writable_by_others(file.metadata()) {
            return Err(refused(why));
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(&file.metadata().permissions()) & 0o777;
        if mode & 0o077 != 0 {
            return Err(refused(format!(
                "others may read it (mode {mode:04o}); it must be 0600"
            )));
        }
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            let meta = std::fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
            if let Some(why) = files::writable_by_others(&meta) {
                return Err(refused(format!("its directory {}: {why}", dir.display())));
            }
        }
        let text = file
            .read_all(4 * KEY_BYTES as u64)
            .map_err(|e| refused(e.to_string()))?;
        let key = parse_hex(std::str::from_utf8(&text).unwrap_or("").trim())
            .ok_or_else(|| refused(format!("it does not hold {KEY_BYTES} hex-encoded bytes")))?;
        Ok(Self { key })
    }

    /// The key the tests share (`target/test-keys/host.key`, in a folder of its own made 0700),
    /// so their compile cache stays warm.
    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self::open_or_create(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-keys/host.key")).unwrap()
    }

    /// A key that lives only in this process, for tests.
    #[cfg(test)]
    pub fn ephemeral() -> Self {
        let mut key = [0u8; KEY_BYTES];
        rustix::rand::getrandom(&mut key, rustix::rand::GetRandomFlags::empty()).unwrap();
        Self { key }
    }

    /// The tag of `parts` for the purpose `label`: each part length-prefixed, so no two
    /// different sequences of parts share a tag, and no tag made for one purpose verifies for
    /// another.
    pub fn tag(&self, label: &str, parts: &[&[u8]]) -> [u8; TAG_BYTES] {
        self.mac(label, parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `parts` for `label`, compared in constant time.
    pub fn verifies(&self, label: &str, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac(label, parts).verify_slice(tag).is_ok()
    }

    /// The MAC fed with `label` and `parts`.
    fn mac(&self, label: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in std::iter::once(label.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }
}

/// The error of a key file that does not exist yet.
#[derive(Debug)]
struct Missing(String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "there is no host key at {} yet (the daemon creates it at its first start)",
            self.0
        )
    }
}

impl std::error::Error for Missing {}

/// Whether `error` says the key file does not exist.
pub fn is_missing(error: &anyhow::Error) -> bool {
    error.downcast_ref::<Missing>().is_some()
}

/// The key in `text`, exactly [`KEY_BYTES`] bytes in hex.
fn parse_hex(text: &str) -> Option<[u8; KEY_BYTES]> {
    unhex(text)?.try_into().ok()
}

/// The tag hex-encoded in `text`, which must be [`TAG_BYTES`] bytes.
pub fn parse_tag(text: &str) -> Result<[u8; TAG_BYTES]> {
    match parse_hex(text) {
        Some(tag) => Ok(tag),
        None => bail!("its tag is not {TAG_BYTES} hex-encoded bytes"),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_first_start_creates_a_private_key_that_later_starts_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/host.key");
        assert!(is_missing(&HostKey::open(&path).unwrap_err()));
        let created = HostKey::open_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let again = HostKey::open_or_create(&path).unwrap();
        assert_eq!(created.key, again.key);
        let tag = created.tag("test", &[b"a", b"bc"]);
        assert!(again.verifies("test", &[b"a", b"bc"], &tag));
        assert!(
            !again.verifies("test", &[b"ab", b"c"], &tag),
            "parts are length-prefixed"
        );
        assert!(
            !again.verifies("other", &[b"a", b"bc"], &tag),
            "labels separate purposes"
        );
        assert!(!HostKey::ephemeral().verifies("test", &[b"a", b"bc"], &tag));
    }

    #[test]
    fn two_daemons_starting_together_end_with_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.key");
        let keys: Vec<HostKey> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| HostKey::open_or_create(&path).unwrap()))
                .collect();
            starts.into_iter().map(|start| start.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|key| key.key == keys[0].key));
    }

    #[test]
    fn a_key_others_may_read_or_change_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.key");
        HostKey::open_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = HostKey::open_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("others may read it (mode 0640)"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = HostKey::open(&path).unwrap_err().to_string();
        assert!(err.contains("anyone may write it"), "{err}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(&path, "not a key\n").unwrap();
        let err = HostKey::open(&path).unwrap_err().to_string();
        assert!(err.contains("does not hold 32 hex-encoded bytes"), "{err}");
    }
}
