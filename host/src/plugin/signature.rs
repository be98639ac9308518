//! Plugin signatures. With `[trust] require_signatures`, a plugin file serves only when the
//! detached signature beside it (`NAME.wasm.sig`, written by `pulse sign`) verifies under one of
//! the keys the operator trusts (`[trust] keys`, the `.pub` files `pulse keygen` writes): Ed25519
//! (`ed25519-dalek`, strict verification) over the SHA-256 of the wasm. An unsigned or wrongly
//! signed file is refused with the reason, and the version serving keeps serving.
//!
//! The three files are one line of text each, easy to read, copy and review:
//! - `NAME.pub`: `pulse-ed25519-public NAME HEX` (32 bytes), for `[trust] keys`;
//! - `NAME.key`: `pulse-ed25519-secret NAME HEX` (the 32-byte seed), mode 0600, for `pulse sign`;
//! - `FILE.wasm.sig`: `pulse-ed25519-signature NAME HEX` (64 bytes), beside the plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::{Signature, VerifyingKey};

use crate::shared::files;
use crate::shared::text::{quoted_path, unhex};

/// What a signature is made over, before the wasm's SHA-256: no signature made for another
/// purpose verifies as a plugin's.
const LABEL: &str = "pulse plugin signature 1\n";

/// The largest key or signature file read: one short line.
pub const MAX_SIGNATURE_BYTES: u64 = 4096;

/// The ending of a signature file, after the plugin's own (`trend.wasm.sig`).
pub const SIGNATURE_EXTENSION: &str = "sig";

/// The signature file of the plugin file `wasm`.
pub fn signature_path(wasm: &Path) -> PathBuf {
    let mut name = wasm.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{SIGNATURE_EXTENSION}"));
    wasm.with_file_name(name)
}

/// The keys whose signatures the operator trusts, by signer name.
#[derive(Debug, Default, Clone)]
pub struct TrustedKeys {
    /// Each signer's key.
    keys: BTreeMap<String, VerifyingKey>,
}

impl TrustedKeys {
    /// The keys of the public key files at `paths`; fails naming the file that cannot be read,
    /// or two files naming one signer.
    pub fn load(paths: &[PathBuf]) -> Result<Self> {
        let mut keys = BTreeMap::new();
        for path in paths {
            let file =
                files::RegularFile::open(path).with_context(|| format!("[trust] keys: {}", quoted_path(path)))?;
            if let Some(why) = files::writable_by_others(file.metadata()) {
                bail!(
                    "[trust] keys: {}: {why}, and anyone who can change it can sign plugins",
                    quoted_path(path)
                );
            }
            let (name, bytes) = read_line(path, "pulse-ed25519-public", 32)
                .with_context(|| format!("[trust] keys: {}", quoted_path(path)))?;
            let key = VerifyingKey::from_bytes(&bytes.try_into().expect("32 bytes"))
                .map_err(|e| anyhow!("[trust] keys: {}: not an Ed25519 public key: {e}", quoted_path(path)))?;
            if keys.insert(name.clone(), key).is_some() {
                bail!("[trust] keys: two files name the signer {name:?}");
            }
        }
        Ok(Self { keys })
    }

    /// The signer whose signature `signature` (the text of a `.sig` file, if there is one) is of
    /// the wasm whose SHA-256 is `hash`, if it is one of these keys'; else why not.
    pub fn signer(&self, hash: &str, signature: Option<&str>) -> Result<String> {
        let text = signature.context("it is not signed: no NAME.wasm.sig beside it (pulse sign makes one)")?;
        let (name, bytes) = parse_line(text, "pulse-ed25519-signature", 64).context("its signature file")?;
        let key = self
            .keys
            .get(&name)
            .with_context(|| format!("it is signed by {name:?}, whose key [trust] keys does not list"))?;
        let signature = Signature::from_bytes(&bytes.try_into().expect("64 bytes"));
        key.verify_strict(message(hash).as_bytes(), &signature)
            .map_err(|_| anyhow!("its signature by {name:?} does not verify: the file changed since it was signed, or another key signed it"))?;
        Ok(name)
    }
}

/// What is signed for the wasm whose SHA-256 is `hash`.
pub(super) fn message(hash: &str) -> String {
    format!("{LABEL}{hash}")
}

/// The signer and bytes of the one-line file at `path` of kind `kind` holding `len` bytes.
pub(super) fn read_line(path: &Path, kind: &str, len: usize) -> Result<(String, Vec<u8>)> {
    let text = files::read_text_bounded(path, MAX_SIGNATURE_BYTES)?;
    parse_line(&text, kind, len)
}

/// `KIND NAME HEX`, with `len` bytes in the hex.
fn parse_line(text: &str, kind: &str, len: usize) -> Result<(String, Vec<u8>)> {
    let mut words = text.split_ascii_whitespace();
    let (Some(found), Some(name), Some(hex), None) = (words.next(), words.next(), words.next(), words.next()) else {
        bail!("not one line of \"{kind} NAME HEX\"");
    };
    if found != kind {
        bail!(
            "not a {kind} line (it starts with {:?})",
            found.chars().take(40).collect::<String>()
        );
    }
    check_name(name)?;
    let bytes = unhex(hex)
        .filter(|bytes| bytes.len() == len)
        .with_context(|| format!("not {len} hex-encoded bytes"))?;
    Ok((name.to_string(), bytes))
}

/// A signer's name: 1-64 letters, digits, `.`, `_`, `-` or `@`.
pub(super) fn check_name(name: &str) -> Result<()> {
    let fits = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if !fits {
        bail!(
            "{:?} is not a signer name: 1-64 letters, digits, '.', '_', '-' or '@'",
            name.chars().take(80).collect::<String>()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::signing::{keygen, sign};
    use super::*;

    #[test]
    fn a_signed_file_verifies_under_its_signers_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (alice_key, alice_pub) = keygen("alice", dir.path()).unwrap();
        let (_, mallory_pub) = keygen("mallory", dir.path()).unwrap();
        assert!(keygen("alice", dir.path()).is_err(), "a key is never overwritten");
        let wasm = dir.path().join("trend.wasm");
        std::fs::write(&wasm, b"\0asm plugin bytes").unwrap();
        let (sig, signer) = sign(&wasm, &alice_key).unwrap();
        assert_eq!(
            (sig.clone(), signer.as_str()),
            (dir.path().join("trend.wasm.sig"), "alice")
        );
        let hash = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(b"\0asm plugin bytes"));
        let text = std::fs::read_to_string(&sig).unwrap();

        let trusted = TrustedKeys::load(std::slice::from_ref(&alice_pub)).unwrap();
        assert_eq!(trusted.signer(&hash, Some(&text)).unwrap(), "alice");
        let other = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(b"changed"));
        let err = trusted.signer(&other, Some(&text)).unwrap_err().to_string();
        assert!(err.contains("does not verify"), "{err}");
        let err = trusted.signer(&hash, None).unwrap_err().to_string();
        assert!(err.contains("it is not signed"), "{err}");
        let only_mallory = TrustedKeys::load(std::slice::from_ref(&mallory_pub)).unwrap();
        let err = only_mallory.signer(&hash, Some(&text)).unwrap_err().to_string();
        assert!(
            err.contains("signed by \"alice\", whose key [trust] keys does not list"),
            "{err}"
        );
        // A signature that claims to be mallory's, made with alice's key.
        let forged = text.replace("alice", "mallory");
        let err = only_mallory.signer(&hash, Some(&forged)).unwrap_err().to_string();
        assert!(err.contains("does not verify"), "{err}");
        assert!(
            TrustedKeys::load(&[alice_pub.clone(), alice_pub]).is_err(),
            "one signer, one key"
        );
    }
}
