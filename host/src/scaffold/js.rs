//! The JavaScript template: a module on the JavaScript SDK (written beside the project, a
//! `file:` dependency), bundled by esbuild and built into a component with componentize-js, its
//! npm packages pinned by the lockfile this binary carries (the versions its tests built with),
//! its JSDoc types checked by TypeScript (`npm run typecheck`).

use std::path::Path;

use anyhow::{Context, Result};

use super::{sdk, Project, Template};

/// Writes the project: package.json and its lockfile, the WIT, the logic, the component's
/// entry, a native test and the type checker's config; and the SDK beside it unless that
/// version is already there.
pub(super) fn write(project: &Project, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let sdk = sdk::Sdk::javascript();
    sdk.install(dir)?;
    let (logic, entry, test, logic_file, test_file) = match project.kind {
        Template::Analyzer => (
            include_str!("js/analyzer.js.tmpl"),
            include_str!("js/analyzer-entry.js.tmpl"),
            include_str!("js/analyzer.test.js.tmpl"),
            "analysis",
            "test/analysis.test.js",
        ),
        Template::Aggregator => (
            include_str!("js/aggregator.js.tmpl"),
            include_str!("js/aggregator-entry.js.tmpl"),
            include_str!("js/aggregator.test.js.tmpl"),
            "aggregation",
            "test/aggregation.test.js",
        ),
    };
    project.write(
        &[
            ("package.json", include_str!("js/package.json.tmpl")),
            ("package-lock.json", include_str!("js/package-lock.json.tmpl")),
            ("tsconfig.json", include_str!("js/tsconfig.json.tmpl")),
            ("src/host.d.ts", include_str!("js/host.d.ts.tmpl")),
            (".gitignore", include_str!("js/gitignore.tmpl")),
            ("README.md", include_str!("js/README.md.tmpl")),
            ("wit/pulse.wit", sdk::WIT),
            (&format!("src/{logic_file}.js"), logic),
            ("src/plugin.js", entry),
            (test_file, test),
        ],
        &[("{{logic}}", logic_file.to_string()), ("{{sdk_folder}}", sdk.folder)],
    )?;
    Ok(vec![
        "npm ci".into(),
        "npm test".into(),
        "npm run typecheck".into(),
        "npm run build".into(),
        project.check_step(&format!("{}.wasm", project.file_stem())),
    ])
}
