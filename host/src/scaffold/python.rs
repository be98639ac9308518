//! The Python template: a module built into a component with componentize-py.

use anyhow::{Context, Result};

use super::{sdk, Project, Template};

/// Writes the project: the WIT, the logic, the component's entry, a native test and build.sh.
pub(super) fn write(project: &Project) -> Result<Vec<String>> {
    let (logic, app, test, logic_file) = match project.kind {
        Template::Analyzer => (
            include_str!("python/analyzer.py.tmpl"),
            include_str!("python/analyzer-app.py.tmpl"),
            include_str!("python/analyzer_test.py.tmpl"),
            "analysis",
        ),
        Template::Aggregator => (
            include_str!("python/aggregator.py.tmpl"),
            include_str!("python/aggregator-app.py.tmpl"),
            include_str!("python/aggregator_test.py.tmpl"),
            "aggregation",
        ),
    };
    project.write(
        &[
            ("build.sh", include_str!("python/build.sh.tmpl")),
            (".gitignore", include_str!("python/gitignore.tmpl")),
            ("README.md", include_str!("python/README.md.tmpl")),
            ("wit/pulse.wit", sdk::WIT),
            (&format!("{logic_file}.py"), logic),
            ("app.py", app),
            // unittest's discovery finds test_*.py.
            (&format!("test_{logic_file}.py"), test),
        ],
        &[("{{logic}}", logic_file.to_string())],
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let build = project.root.join("build.sh");
        std::fs::set_permissions(&build, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", build.display()))?;
    }
    Ok(vec![
        "python3 -m unittest".into(),
        "./build.sh".into(),
        project.check_step(&format!("{}.wasm", project.file_stem())),
    ])
}
