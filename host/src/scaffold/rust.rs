//! The Rust template: a crate on the Pulse SDK, which `pulse new` writes beside it.

use std::path::Path;

use anyhow::{Context, Result};

use super::{sdk, Project, Template};

/// Writes the crate, and the SDK beside it unless that version is already there.
pub(super) fn write(project: &Project, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let sdk = sdk::Sdk::rust();
    sdk.install(dir)?;
    let folder = sdk.folder;
    let source = match project.kind {
        Template::Analyzer => include_str!("rust/analyzer.rs.tmpl"),
        Template::Aggregator => include_str!("rust/aggregator.rs.tmpl"),
    };
    project.write(
        &[
            ("Cargo.toml", include_str!("rust/Cargo.toml.tmpl")),
            (".cargo/config.toml", include_str!("rust/cargo-config.toml.tmpl")),
            ("README.md", include_str!("rust/README.md.tmpl")),
            (".gitignore", include_str!("rust/gitignore.tmpl")),
            ("src/lib.rs", source),
        ],
        &[
            ("{{sdk_version}}", sdk::version().to_string()),
            ("{{sdk_path}}", format!("../{folder}")),
            ("{{sdk_folder}}", folder),
        ],
    )?;
    Ok(vec![
        "cargo test".into(),
        "cargo build --release --target wasm32-wasip2".into(),
        project.check_step(&format!("target/wasm32-wasip2/release/{}.wasm", project.file_stem())),
    ])
}
