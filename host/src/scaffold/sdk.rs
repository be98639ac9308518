//! The plugin SDK and the WIT contract, carried inside the `pulse` binary so that an author
//! with nothing but the binary can build a plugin.
//!
//! `pulse-sdk` is not on crates.io yet (`cargo package` accepts it; nothing is published from
//! here), so `pulse new` writes
//! it as `pulse-sdk-VERSION/` beside the new crate, the way `cargo vendor` lays out a
//! dependency, and the crate depends on `pulse-sdk = "VERSION"` with a `[patch.crates-io]`
//! entry pointing there. Crates made in the same directory share one copy; once the SDK is
//! published, deleting the patch entry is the whole migration.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The contract every template targets, also written into JavaScript and Python projects.
pub const WIT: &str = include_str!("../../../wit/pulse.wit");

/// Every file of `plugins/sdk`, as the SDK crate's relative path and its text.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../plugins/sdk/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../plugins/sdk/src/lib.rs")),
    ("src/analyses.rs", include_str!("../../../plugins/sdk/src/analyses.rs")),
    ("src/held.rs", include_str!("../../../plugins/sdk/src/held.rs")),
    (
        "src/indicators/mod.rs",
        include_str!("../../../plugins/sdk/src/indicators/mod.rs"),
    ),
    (
        "src/indicators/window.rs",
        include_str!("../../../plugins/sdk/src/indicators/window.rs"),
    ),
    (
        "src/indicators/sma.rs",
        include_str!("../../../plugins/sdk/src/indicators/sma.rs"),
    ),
    (
        "src/indicators/ema.rs",
        include_str!("../../../plugins/sdk/src/indicators/ema.rs"),
    ),
    (
        "src/indicators/rsi.rs",
        include_str!("../../../plugins/sdk/src/indicators/rsi.rs"),
    ),
    (
        "src/indicators/range.rs",
        include_str!("../../../plugins/sdk/src/indicators/range.rs"),
    ),
    (
        "src/indicators/macd.rs",
        include_str!("../../../plugins/sdk/src/indicators/macd.rs"),
    ),
    (
        "src/indicators/bollinger.rs",
        include_str!("../../../plugins/sdk/src/indicators/bollinger.rs"),
    ),
    (
        "src/indicators/deviation.rs",
        include_str!("../../../plugins/sdk/src/indicators/deviation.rs"),
    ),
    (
        "src/indicators/roc.rs",
        include_str!("../../../plugins/sdk/src/indicators/roc.rs"),
    ),
    (
        "src/indicators/extremes.rs",
        include_str!("../../../plugins/sdk/src/indicators/extremes.rs"),
    ),
    ("src/log.rs", include_str!("../../../plugins/sdk/src/log.rs")),
    ("src/market.rs", include_str!("../../../plugins/sdk/src/market.rs")),
    ("src/math.rs", include_str!("../../../plugins/sdk/src/math.rs")),
    ("src/output.rs", include_str!("../../../plugins/sdk/src/output.rs")),
    ("src/testing.rs", include_str!("../../../plugins/sdk/src/testing.rs")),
];

/// The SDK's version, from its `Cargo.toml`; the contract's too (a unit test holds them equal).
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let manifest: toml::Table = toml::from_str(FILES[0].1).expect("the embedded SDK's Cargo.toml parses");
        manifest["package"]["version"]
            .as_str()
            .expect("the embedded SDK's Cargo.toml has a version")
            .to_string()
    })
}

/// The SDK as it is written: its files, plus the WIT in its own `wit/` folder.
fn files() -> Vec<(&'static str, String)> {
    let mut files: Vec<(&str, String)> = FILES.iter().map(|(path, text)| (*path, text.to_string())).collect();
    files.push(("wit/pulse.wit", WIT.to_string()));
    files
}

/// The folder name the SDK is written under: `pulse-sdk-VERSION`.
pub fn folder_name() -> String {
    format!("pulse-sdk-{}", version())
}

/// Makes sure `dir/pulse-sdk-VERSION` holds this binary's SDK: writes it if absent (into a
/// temporary folder renamed into place, so neither an interrupted run nor two runs at once leave
/// a half-written SDK), reuses it if identical, and refuses, naming the first differing file, if
/// it differs.
pub fn install(dir: &Path) -> Result<PathBuf> {
    let target = dir.join(folder_name());
    if !target.exists() {
        // Removed when dropped, unless renamed into place first.
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}.partial-", folder_name()))
            .tempdir_in(dir)
            .with_context(|| format!("cannot create a folder in {}", dir.display()))?;
        let written = write_all(staging.path()).and_then(|()| {
            std::fs::rename(staging.path(), &target)
                .with_context(|| format!("cannot move {} to {}", staging.path().display(), target.display()))
        });
        match written {
            Ok(()) => return Ok(target),
            // Another `pulse new` put its copy in place first: compare with that one below.
            Err(_) if target.exists() => {}
            Err(error) => return Err(error),
        }
    }
    for (path, text) in files() {
        let existing = std::fs::read_to_string(target.join(path)).unwrap_or_default();
        if existing != text {
            bail!(
                "{} differs from the SDK this pulse carries (edited, or written by another pulse build \
                 of the same version): move {} aside and run pulse new again",
                target.join(path).display(),
                target.display()
            );
        }
    }
    Ok(target)
}

/// Writes every SDK file under `root`.
fn write_all(root: &Path) -> Result<()> {
    for (path, text) in files() {
        let file = root.join(path);
        let folder = file.parent().expect("an SDK file is in a folder");
        std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_sdk() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk")
    }

    #[test]
    fn every_sdk_source_file_is_carried() {
        fn walk(root: &Path, folder: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut on_disk = Vec::new();
        walk(&repo_sdk(), &repo_sdk().join("src"), &mut on_disk);
        on_disk.sort();
        let mut carried: Vec<String> = FILES
            .iter()
            .map(|(path, _)| path.to_string())
            .filter(|path| path.starts_with("src/"))
            .collect();
        carried.sort();
        assert_eq!(carried, on_disk, "add the SDK's new file to scaffold/sdk.rs FILES");
    }

    /// Where the SDK's `lib.rs` finds the WIT: its own `wit/` folder (in the repository a link
    /// to the one contract, so the published crate holds it too).
    const WIT_PATH: &str = "path: \"wit\"";

    #[test]
    fn the_written_sdk_reads_its_own_wit() {
        let lib = &files()[1].1;
        assert_eq!(lib.matches(WIT_PATH).count(), 2, "both worlds' bindings: {lib}");
        assert_eq!(
            std::fs::read_to_string(repo_sdk().join("wit/pulse.wit")).unwrap(),
            WIT,
            "the SDK's wit/ holds the contract"
        );
    }

    #[test]
    fn the_sdk_version_is_the_contract_version() {
        assert!(
            WIT.contains(&format!("package pulse:plugin@{};", version())),
            "{}",
            version()
        );
    }

    #[test]
    fn two_installs_at_once_leave_one_whole_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let installs: Vec<_> = (0..4)
            .map(|_| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || install(&dir).map(|_| ()).map_err(|e| e.to_string()))
            })
            .collect();
        for install in installs {
            install.join().unwrap().unwrap();
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no second copy, no leftovers"
        );
        install(dir.path()).unwrap();
    }

    #[test]
    fn an_existing_identical_sdk_is_reused_and_a_changed_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = install(dir.path()).unwrap();
        assert_eq!(install(dir.path()).unwrap(), first);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no second copy, no leftovers"
        );
        std::fs::write(first.join("src/log.rs"), "// edited\n").unwrap();
        let error = install(dir.path()).unwrap_err().to_string();
        assert!(error.contains("src/log.rs differs"), "{error}");
    }
}
