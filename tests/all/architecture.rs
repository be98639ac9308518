//! The host's import graph holds the shape `docs/architecture.md` states, and that page's
//! module map names every source file: read from the page itself, so the page stays true.

mod circles;
mod reading;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The cells of the markdown table rows under `heading` in `page`.
fn table(page: &str, heading: &str) -> Vec<Vec<String>> {
    let section = page
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/architecture.md has no section {heading:?}"));
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .skip(1)
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect())
        .collect()
}

/// The names written in backticks in `cell`.
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Every `.rs` file of the library and binary (not `src/bin`, a crate of its own), relative
/// to `host/src`.
fn source_files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.strip_prefix(base).unwrap() != Path::new("bin") {
                source_files(&path, base, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

/// The top-level module a file belongs to (`plugin/engine.rs` → `plugin`).
fn module_of(file: &Path) -> String {
    let first = file.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules `text` names as `crate::NAME`, comments left out.
fn imports(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                !name.is_empty(),
                "a grouped `crate::{{..}}` import cannot be checked: {line}"
            );
            names.insert(name);
        }
    }
    names
}

#[test]
fn imports_follow_the_layers_and_every_file_is_on_the_map() {
    let page = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let layers: Vec<(String, Vec<String>)> = table(&page, "Layers")
        .iter()
        .map(|row| (row[0].clone(), quoted(&row[1])))
        .collect();
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(depth, (_, modules))| modules.iter().map(move |m| (m.as_str(), depth)))
        .collect();
    let mapped: BTreeSet<String> = table(&page, "Module map")
        .iter()
        .flat_map(|row| quoted(&row[0]))
        .collect();

    let src = root().join("host/src");
    let mut files = Vec::new();
    source_files(&src, &src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} source files", files.len());

    let mut problems = Vec::new();
    let on_disk: BTreeSet<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
    for file in on_disk.difference(&mapped) {
        problems.push(format!("{file} has no line in the module map"));
    }
    for file in mapped.difference(&on_disk) {
        problems.push(format!("the module map names {file}, which does not exist"));
    }
    for file in &files {
        let module = module_of(file);
        let Some(&depth) = layer_of.get(module.as_str()) else {
            problems.push(format!("module {module} ({}) is in no layer", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        for import in imports(&text).into_iter().filter(|i| *i != module) {
            let allowed = match layer_of.get(import.as_str()) {
                Some(&to) => to > depth || (to == depth && depth == 0),
                None => false,
            };
            if !allowed {
                problems.push(format!(
                    "{} ({}) imports crate::{import} ({})",
                    file.display(),
                    layers[depth].0,
                    layer_of
                        .get(import.as_str())
                        .map_or("no layer", |&d| layers[d].0.as_str())
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/architecture.md does not hold:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_import_reader_sees_what_it_must() {
    let text = "use crate::cache::Sink;\n// crate::cli in a comment\nlet t = crate::shared::clock::now_ms();";
    assert_eq!(
        imports(text),
        BTreeSet::from(["cache".to_string(), "shared".to_string()])
    );
    assert_eq!(quoted("`a`, `b` and `c`"), ["a", "b", "c"]);
    assert_eq!(module_of(Path::new("plugin/engine.rs")), "plugin");
    assert_eq!(module_of(Path::new("cli.rs")), "cli");
}
