//! The Python template: a module built into a component with componentize-py.

use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};

use super::{sdk, Project};

/// Writes the project: the WIT, the logic, the component's entry, a native test and build.sh.
pub(super) fn write(project: &Project) -> Result<Vec<String>> {
    project.write(
        &[
            ("build.sh", include_str!("python/build.sh.tmpl")),
            (".gitignore", include_str!("python/gitignore.tmpl")),
            ("README.md", include_str!("python/README.md.tmpl")),
            ("wit/pulse.wit", sdk::WIT),
            ("analysis.py", include_str!("python/analysis.py.tmpl")),
            ("app.py", include_str!("python/app.py.tmpl")),
            ("test_analysis.py", include_str!("python/test_analysis.py.tmpl")),
        ],
        &[],
    )?;
    let build = project.root.join("build.sh");
    std::fs::set_permissions(&build, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", build.display()))?;
    Ok(vec![
        "python3 -m unittest".into(),
        "./build.sh".into(),
        format!("pulse check {}.wasm", project.file_stem()),
    ])
}
