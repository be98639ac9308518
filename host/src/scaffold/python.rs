//! The Python template: a module on the Python SDK (written beside the project, put on the
//! path by build.sh), built into a component with componentize-py.

use std::path::Path;

use anyhow::{Context, Result};

use super::{sdk, Project, Template};

/// Writes the project: the WIT, the logic, the component's entry, a native test and build.sh;
/// and the SDK beside it unless that version is already there.
pub(super) fn write(project: &Project, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let sdk = sdk::Sdk::python();
    sdk.install(dir)?;
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
        &[("{{logic}}", logic_file.to_string()), ("{{sdk_folder}}", sdk.folder)],
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let build = project.root.join("build.sh");
        std::fs::set_permissions(&build, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", build.display()))?;
    }
    Ok(vec![
        "./build.sh test".into(),
        "./build.sh".into(),
        project.check_step(&format!("{}.wasm", project.file_stem())),
    ])
}
