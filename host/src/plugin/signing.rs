//! Writing keys and signatures: `pulse keygen` makes a signer's key pair, `pulse sign` signs a
//! plugin file with it. The formats, and checking a signature, are `signature.rs`'s.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ed25519_dalek::{Signer, SigningKey};

use super::file::MAX_PLUGIN_BYTES;
use super::signature::{check_name, message, read_line, signature_path};
use crate::shared::files;
use crate::shared::text::{hex, quoted_path};

/// A new key pair for signer `name`, written as `NAME.key` (mode 0600, never over an existing
/// one) and `NAME.pub` in `dir`; returns their paths.
pub fn keygen(name: &str, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    check_name(name)?;
    let mut seed = [0u8; 32];
    rustix::rand::getrandom(&mut seed, rustix::rand::GetRandomFlags::empty()).context("cannot draw random bytes")?;
    let key = SigningKey::from_bytes(&seed);
    let (secret, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    files::create_dir_all(dir, 0o700).with_context(|| format!("cannot create {}", quoted_path(dir)))?;
    let mut file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                quoted_path(&secret)
            )
        })?;
    use std::io::Write;
    file.write_all(format!("pulse-ed25519-secret {name} {}\n", hex(&seed)).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", quoted_path(&secret)))?;
    let line = format!("pulse-ed25519-public {name} {}\n", hex(key.verifying_key().as_bytes()));
    files::write_atomically(&public, line.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", quoted_path(&public)))?;
    Ok((secret, public))
}

/// Signs the plugin file `wasm` with the secret key file `key`: writes `WASM.sig` beside it.
/// Returns the signature file and the signer.
pub fn sign(wasm: &Path, key: &Path) -> Result<(PathBuf, String)> {
    let (name, seed) = read_line(key, "pulse-ed25519-secret", 32).with_context(|| quoted_path(key))?;
    let key = SigningKey::from_bytes(&seed.try_into().expect("32 bytes"));
    let bytes =
        files::read_bounded(wasm, MAX_PLUGIN_BYTES).with_context(|| format!("cannot read {}", quoted_path(wasm)))?;
    let hash = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let signature = key.sign(message(&hash).as_bytes());
    let path = signature_path(wasm);
    let line = format!("pulse-ed25519-signature {name} {}\n", hex(&signature.to_bytes()));
    files::write_atomically(&path, line.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", quoted_path(&path)))?;
    Ok((path, name))
}
