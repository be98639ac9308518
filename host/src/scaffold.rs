//! `pulse new analyzer|aggregator NAME`: writes a ready plugin crate that builds to a working
//! component with one command and has a passing native test.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Which template `pulse new` writes: an analyzer or an aggregator crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// Scores symbols.
    Analyzer,
    /// Writes cache entries.
    Aggregator,
}

/// The SDK this build of `pulse` comes with.
fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk")
}

/// Creates `dir/NAME` with a plugin crate; `sdk` overrides the SDK's location.
pub fn create(template: Template, name: &str, dir: &Path, sdk: Option<&Path>) -> Result<PathBuf> {
    let name_ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        bail!("plugin name {name:?} must start with a-z and hold only a-z, 0-9 and '-'");
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let sdk = match sdk {
        Some(path) => path.to_path_buf(),
        None => default_sdk(),
    };
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("cannot find the Pulse SDK at {} (pass --sdk PATH)", sdk.display()))?;
    let (source, kind_name) = match template {
        Template::Analyzer => (include_str!("scaffold/analyzer.rs.tmpl"), "analyzer"),
        Template::Aggregator => (include_str!("scaffold/aggregator.rs.tmpl"), "aggregator"),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{kind}}", kind_name)
            .replace("{{sdk}}", &sdk.display().to_string())
    };
    for folder in ["src", ".cargo"] {
        std::fs::create_dir_all(root.join(folder)).with_context(|| format!("cannot create {}", root.display()))?;
    }
    for (file, template) in [
        ("Cargo.toml", include_str!("scaffold/Cargo.toml.tmpl")),
        (".cargo/config.toml", include_str!("scaffold/cargo-config.toml.tmpl")),
        ("README.md", include_str!("scaffold/README.md.tmpl")),
        ("src/lib.rs", source),
    ] {
        let path = root.join(file);
        std::fs::write(&path, fill(template)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root)
}
