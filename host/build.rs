//! Stamps the build for `pulse --version`: the commit it was built from and the wasmtime it
//! links, neither of which Cargo hands a crate.
//! - The commit is `PULSE_COMMIT` when set (a package built from a source archive), else what
//!   `git` says of the checkout, else "unknown".
//! - The wasmtime version is read from the workspace's `Cargo.lock`, which pins it.
//!
//! It also asks for a rebuild when a file is added to an SDK that `pulse new` carries.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("Cargo sets it");
    let root = Path::new(&manifest).parent().expect("host/ is in the workspace");
    println!("cargo:rerun-if-env-changed=PULSE_COMMIT");
    // A new commit moves the branch HEAD names (or, once packed, packed-refs).
    // .git/logs/HEAD is written at every commit, whether or not the branch's ref is packed.
    let mut watched = vec![
        ".git/HEAD".to_string(),
        ".git/logs/HEAD".to_string(),
        ".git/packed-refs".to_string(),
        "Cargo.lock".to_string(),
    ];
    if let Ok(head) = std::fs::read_to_string(root.join(".git/HEAD")) {
        if let Some(branch) = head.trim().strip_prefix("ref: ") {
            watched.push(format!(".git/{branch}"));
        }
    }
    // `pulse new` carries the SDKs' sources (scaffold/sdk.rs embeds these folders whole): a
    // file added to one is carried only once the host is built again.
    watched.extend(
        [
            "plugins/sdk/src",
            "plugins/sdk-js/src",
            "plugins/sdk-python/src/pulse_sdk",
        ]
        .map(str::to_string),
    );
    for path in watched.iter().map(|w| root.join(w)).filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let commit = std::env::var("PULSE_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(root, &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=PULSE_COMMIT={commit}");
    let wasmtime = std::fs::read_to_string(root.join("Cargo.lock"))
        .ok()
        .and_then(|lock| locked_version(&lock, "wasmtime"))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=PULSE_WASMTIME_VERSION={wasmtime}");
}

/// What `git args` prints in `dir`, trimmed; `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The version `Cargo.lock` pins for package `name`.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_string());
        }
    }
    None
}
