//! The plugin SDKs and the WIT contract, carried inside the `pulse` binary so that an author
//! with nothing but the binary can build a plugin in Rust, JavaScript or Python.
//!
//! Nothing is published from here (each package passes its ecosystem's own check:
//! `scripts/package-sdks`), so `pulse new` writes the SDK of the project's language beside the
//! project, under the name its ecosystem gives an unpacked package, and the project depends on
//! that copy through one line:
//! - Rust, `pulse-sdk-VERSION/`: `pulse-sdk = "VERSION"` with a `[patch.crates-io]` entry
//!   pointing there;
//! - JavaScript, `pulse-plugin-sdk-VERSION/`: `"pulse-plugin-sdk": "file:../pulse-plugin-sdk-VERSION"`
//!   in package.json;
//! - Python, `pulse_plugin_sdk-VERSION/`: the `SDK=` line of build.sh, which puts its `src/` on
//!   the path of the tests and of componentize-py.
//!
//! Projects made in the same directory share one copy; once a package is published, changing
//! that one line is the whole migration.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use include_dir::{include_dir, Dir};

/// The contract every template targets, also written into JavaScript and Python projects.
pub const WIT: &str = include_str!("../../../wit/pulse.wit");

/// The Rust SDK's sources (`plugins/sdk/src`).
static RUST_SOURCES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../plugins/sdk/src");
/// The JavaScript SDK's sources (`plugins/sdk-js/src`).
static JS_SOURCES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../plugins/sdk-js/src");
/// The Python SDK's package (`plugins/sdk-python/src/pulse_sdk`).
static PYTHON_SOURCES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../plugins/sdk-python/src/pulse_sdk");

/// The Rust crate's manifest: the SDK's version is read from it.
const RUST_MANIFEST: &str = include_str!("../../../plugins/sdk/Cargo.toml");

/// One SDK as `pulse new` writes it.
pub struct Sdk {
    /// The folder it is written under, beside the project: the name its ecosystem gives the
    /// unpacked package, with the version.
    pub folder: String,
    /// Its files, as paths inside the folder and their text.
    files: Vec<(String, &'static str)>,
}

/// The SDKs' version, from the Rust crate's `Cargo.toml`; the contract's, the npm package's and
/// the Python package's too (unit tests hold them equal).
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let manifest: toml::Table = toml::from_str(RUST_MANIFEST).expect("the embedded SDK's Cargo.toml parses");
        manifest["package"]["version"]
            .as_str()
            .expect("the embedded SDK's Cargo.toml has a version")
            .to_string()
    })
}

/// The sources in `tree` whose names end in one of `kinds`, under `prefix` (what a build or a
/// test run leaves beside them, such as `__pycache__`, is not carried).
fn sources(tree: &'static Dir<'static>, prefix: &str, kinds: &[&str]) -> Vec<(String, &'static str)> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<&'static include_dir::File<'static>>) {
        out.extend(dir.files());
        for inner in dir.dirs() {
            walk(inner, out);
        }
    }
    let mut files = Vec::new();
    walk(tree, &mut files);
    let mut out: Vec<(String, &'static str)> = files
        .into_iter()
        .filter(|file| {
            let name = file.path().to_string_lossy();
            kinds.iter().any(|kind| name.ends_with(kind))
        })
        .map(|file| {
            let text = file.contents_utf8().expect("an SDK source is UTF-8");
            (format!("{prefix}{}", file.path().display()), text)
        })
        .collect();
    out.sort();
    out
}

impl Sdk {
    /// The Rust crate, `pulse-sdk`, with the contract in its own `wit/`.
    pub fn rust() -> Self {
        let mut files = vec![
            ("Cargo.toml".to_string(), RUST_MANIFEST),
            ("wit/pulse.wit".to_string(), WIT),
        ];
        files.extend(sources(&RUST_SOURCES, "src/", &[".rs"]));
        Self {
            folder: format!("pulse-sdk-{}", version()),
            files,
        }
    }

    /// The npm package, `pulse-plugin-sdk`: its sources, which TypeScript reads for their JSDoc
    /// types (the published package's generated `types/` are not carried).
    pub fn javascript() -> Self {
        let mut files = vec![
            (
                "package.json".to_string(),
                include_str!("../../../plugins/sdk-js/package.json"),
            ),
            (
                "README.md".to_string(),
                include_str!("../../../plugins/sdk-js/README.md"),
            ),
            ("LICENSE".to_string(), include_str!("../../../plugins/sdk-js/LICENSE")),
        ];
        files.extend(sources(&JS_SOURCES, "src/", &[".js"]));
        Self {
            folder: format!("pulse-plugin-sdk-{}", version()),
            files,
        }
    }

    /// The Python package, `pulse-plugin-sdk` (imported as `pulse_sdk`), laid out as its sdist is.
    pub fn python() -> Self {
        let mut files = vec![
            (
                "pyproject.toml".to_string(),
                include_str!("../../../plugins/sdk-python/pyproject.toml"),
            ),
            (
                "README.md".to_string(),
                include_str!("../../../plugins/sdk-python/README.md"),
            ),
            (
                "LICENSE".to_string(),
                include_str!("../../../plugins/sdk-python/LICENSE"),
            ),
        ];
        files.extend(sources(&PYTHON_SOURCES, "src/pulse_sdk/", &[".py", "py.typed"]));
        Self {
            folder: format!("pulse_plugin_sdk-{}", version()),
            files,
        }
    }

    /// Makes sure `dir/FOLDER` holds this SDK: writes it if absent (into a temporary folder
    /// renamed into place, so neither an interrupted run nor two runs at once leave a
    /// half-written SDK), reuses it if identical, and refuses, naming the first differing file,
    /// if it differs.
    pub fn install(&self, dir: &Path) -> Result<PathBuf> {
        let target = dir.join(&self.folder);
        if !target.exists() {
            // Removed when dropped, unless renamed into place first.
            let staging = tempfile::Builder::new()
                .prefix(&format!(".{}.partial-", self.folder))
                .tempdir_in(dir)
                .with_context(|| format!("cannot create a folder in {}", dir.display()))?;
            let written = self.write_all(staging.path()).and_then(|()| {
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
        for (path, text) in &self.files {
            let existing = std::fs::read_to_string(target.join(path)).unwrap_or_default();
            if existing != *text {
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
    fn write_all(&self, root: &Path) -> Result<()> {
        for (path, text) in &self.files {
            let file = root.join(path);
            let folder = file.parent().expect("an SDK file is in a folder");
            std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
            std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins").join(path)
    }

    fn text_of(sdk: &Sdk, path: &str) -> &'static str {
        sdk.files
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is carried"))
            .1
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
        let sdks = [
            (Sdk::rust(), "sdk", "src", &[".rs"][..]),
            (Sdk::javascript(), "sdk-js", "src", &[".js"][..]),
            (Sdk::python(), "sdk-python", "src", &[".py", "py.typed"][..]),
        ];
        for (sdk, folder, sources, kinds) in sdks {
            let mut on_disk = Vec::new();
            walk(&repo(folder), &repo(folder).join(sources), &mut on_disk);
            on_disk.retain(|path| kinds.iter().any(|kind| path.ends_with(kind)));
            on_disk.sort();
            let mut carried: Vec<String> = sdk
                .files
                .iter()
                .map(|(path, _)| path.clone())
                .filter(|path| path.starts_with("src/"))
                .collect();
            carried.sort();
            // build.rs asks for a rebuild when a file is added; a file of another kind is not carried.
            assert_eq!(carried, on_disk, "{folder}: the carried sources differ from the SDK's");
        }
    }

    /// Where the Rust SDK's `lib.rs` finds the WIT: its own `wit/` folder (in the repository a
    /// link to the one contract, so the published crate holds it too).
    const WIT_PATH: &str = "path: \"wit\"";

    #[test]
    fn the_written_rust_sdk_reads_its_own_wit() {
        let lib = text_of(&Sdk::rust(), "src/lib.rs");
        assert_eq!(lib.matches(WIT_PATH).count(), 2, "both worlds' bindings: {lib}");
        assert_eq!(
            std::fs::read_to_string(repo("sdk/wit/pulse.wit")).unwrap(),
            WIT,
            "the SDK's wit/ holds the contract"
        );
    }

    #[test]
    fn every_sdk_s_version_is_the_contract_version() {
        assert!(
            WIT.contains(&format!("package pulse:plugin@{};", version())),
            "{}",
            version()
        );
        let npm: serde_json::Value = serde_json::from_str(text_of(&Sdk::javascript(), "package.json")).unwrap();
        assert_eq!(npm["version"], version());
        let python: toml::Table = toml::from_str(text_of(&Sdk::python(), "pyproject.toml")).unwrap();
        assert_eq!(python["project"]["version"].as_str(), Some(version()));
        let init = text_of(&Sdk::python(), "src/pulse_sdk/__init__.py");
        assert!(init.contains(&format!("__version__ = \"{}\"", version())), "{init}");
    }

    /// The JavaScript template's lockfile names the carried SDK as it is: its version and its
    /// devDependencies (else `npm ci` refuses the lock as out of date).
    #[test]
    fn the_javascript_lockfile_matches_the_carried_sdk() {
        let lock = include_str!("js/package-lock.json.tmpl").replace("{{wit_version}}", version());
        let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
        let entry = &lock["packages"]["../{{sdk_folder}}"];
        let npm: serde_json::Value = serde_json::from_str(text_of(&Sdk::javascript(), "package.json")).unwrap();
        for field in ["name", "version", "devDependencies", "engines", "license"] {
            assert_eq!(entry[field], npm[field], "{field}");
        }
    }

    #[test]
    fn two_installs_at_once_leave_one_whole_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let installs: Vec<_> = (0..4)
            .map(|i| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let sdk = if i % 2 == 0 { Sdk::rust() } else { Sdk::python() };
                    sdk.install(&dir).map(|_| ()).map_err(|e| e.to_string())
                })
            })
            .collect();
        for install in installs {
            install.join().unwrap().unwrap();
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "one copy of each, no leftovers"
        );
        Sdk::rust().install(dir.path()).unwrap();
    }

    #[test]
    fn an_existing_identical_sdk_is_reused_and_a_changed_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = Sdk::javascript();
        let first = sdk.install(dir.path()).unwrap();
        assert_eq!(sdk.install(dir.path()).unwrap(), first);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no second copy, no leftovers"
        );
        std::fs::write(first.join("src/log.js"), "// edited\n").unwrap();
        let error = sdk.install(dir.path()).unwrap_err().to_string();
        assert!(error.contains("src/log.js differs"), "{error}");
    }
}
