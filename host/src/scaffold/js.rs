//! The JavaScript template: a module built into a component with componentize-js, its npm
//! packages pinned by the lockfile this binary carries (the versions its tests built with).

use anyhow::Result;

use super::{sdk, Project};

/// Writes the project: package.json and its lockfile, the WIT, the logic, the component's
/// entry and a native test.
pub(super) fn write(project: &Project) -> Result<Vec<String>> {
    project.write(
        &[
            ("package.json", include_str!("js/package.json.tmpl")),
            ("package-lock.json", include_str!("js/package-lock.json.tmpl")),
            (".gitignore", include_str!("js/gitignore.tmpl")),
            ("README.md", include_str!("js/README.md.tmpl")),
            ("wit/pulse.wit", sdk::WIT),
            ("src/analysis.js", include_str!("js/analysis.js.tmpl")),
            ("src/plugin.js", include_str!("js/plugin.js.tmpl")),
            ("test/analysis.test.js", include_str!("js/analysis.test.js.tmpl")),
        ],
        &[],
    )?;
    Ok(vec![
        "npm ci".into(),
        "npm test".into(),
        "npm run build".into(),
        format!("pulse check {}.wasm", project.file_stem()),
    ])
}
