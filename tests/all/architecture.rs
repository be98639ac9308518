//! The host's import graph holds the shape `docs/architecture.md` states, and that page's
//! module map names every source file: read from the page itself, so the page stays true.

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

/// A file's module path under the crate root: `status/live.rs` → `status::live`,
/// `status/mod.rs` → `status`, `lib.rs` → the root.
fn module_path(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// `text` without comments and without its inline test module (`#[cfg(test)] mod tests { .. }`,
/// which by this crate's custom closes a file): the imports the code itself makes.
fn product_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests {"))
        {
            break;
        }
        if !trimmed.starts_with("//") {
            out.push_str(line.split(" // ").next().unwrap_or(line));
            out.push('\n');
        }
    }
    out
}

/// Every path a `use` tree names, expanded: `a::{b, c::{d as e}}` → `a::b`, `a::c::d`.
fn use_tree(tree: &str) -> Vec<Vec<String>> {
    fn segments(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*" && *s != "self")
            .map(String::from)
    }
    fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        let Some(open) = tree.find('{') else {
            let name = tree.split(" as ").next().unwrap_or(tree);
            out.push(prefix.iter().cloned().chain(segments(name)).collect());
            return;
        };
        let path: Vec<String> = prefix.iter().cloned().chain(segments(&tree[..open])).collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&path, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if !inner[start..].trim().is_empty() {
            expand(&path, &inner[start..], out);
        }
    }
    let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    expand(&[], &tree, &mut out);
    out
}

/// Each `use` statement of `code`, joined onto one line, and whether it re-exports (`pub`).
fn use_statements(code: &str) -> Vec<(bool, String)> {
    let mut statements = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start();
        let Some((public, tree)) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|start| Some((start.starts_with("pub"), line.strip_prefix(start)?)))
        else {
            continue;
        };
        let mut statement = tree.to_string();
        while !statement.contains(';') {
            let Some(more) = lines.next() else { break };
            statement.push(' ');
            statement.push_str(more);
        }
        statements.push((public, statement.split(';').next().unwrap_or_default().to_string()));
    }
    statements
}

/// The paths `code` names: its `use` trees, and the `crate::`, `super::` and `self::` paths
/// written inline.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths: Vec<Vec<String>> = use_statements(code)
        .iter()
        .flat_map(|(_, tree)| use_tree(tree))
        .collect();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            if code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
        }
    }
    paths
}

/// Where `path`, named in module `own`, leads: the module that holds what it names, with items
/// a folder's root re-exports followed to the file that defines them.
fn target(path: &[String], own: &[String], modules: &BTreeMap<Vec<String>, Vec<Vec<String>>>) -> Option<Vec<String>> {
    let mut absolute = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "super" => own[..own.len().saturating_sub(1)].to_vec(),
        "self" => own.to_vec(),
        first => {
            // A child module named plainly (`use market::Market;` in a folder's root).
            let mut child = own.to_vec();
            child.push(first.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
            own.to_vec()
        }
    };
    let mut rest = &path[usize::from(matches!(path[0].as_str(), "crate" | "super" | "self"))..];
    while rest.first().is_some_and(|s| s == "super") {
        absolute.pop();
        rest = &rest[1..];
    }
    for segment in rest {
        let mut next = absolute.clone();
        next.push(segment.clone());
        if modules.contains_key(&next) {
            absolute = next;
            continue;
        }
        // An item of `absolute`: defined there, or re-exported from one of its children.
        let reexported = modules
            .get(&absolute)
            .and_then(|r| r.iter().find(|path| path.last() == Some(segment)));
        if let Some(from) = reexported {
            return target(&from[..from.len() - 1], &absolute, modules).or(Some(absolute));
        }
        break;
    }
    Some(absolute)
}

/// Every circle between the files (or subfolders) of one folder, each as `a.rs → b.rs → a.rs`.
fn circles_between_files(files: &[(PathBuf, String)]) -> Vec<String> {
    // Each module, and the paths its root re-exports (`pub use child::Item;`).
    let mut modules: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
    for (file, text) in files {
        let reexports = use_statements(&product_code(text))
            .iter()
            .filter(|(public, _)| *public)
            .flat_map(|(_, tree)| use_tree(tree))
            .collect();
        modules.insert(module_path(file), reexports);
    }
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (file, text) in files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let own = module_path(file);
        for path in named_paths(&product_code(text)) {
            let Some(to) = target(&path, &own, &modules) else {
                continue;
            };
            // The two siblings this import joins: the children of the deepest folder holding both.
            let common = own.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common < own.len() && common < to.len() {
                edges
                    .entry(own[..=common].to_vec())
                    .or_default()
                    .insert(to[..=common].to_vec());
            }
        }
    }
    let mut circles = BTreeSet::new();
    for start in edges.keys() {
        // The shortest way back to `start`, breadth first.
        let mut came_from: BTreeMap<&Vec<String>, &Vec<String>> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            for next in edges.get(at).into_iter().flatten() {
                if next == start {
                    let mut circle = vec![at.join("/")];
                    let mut back = at;
                    while back != start {
                        back = came_from[back];
                        circle.push(back.join("/"));
                    }
                    circle.reverse();
                    let least = circle.iter().enumerate().min_by_key(|(_, n)| n.as_str()).unwrap().0;
                    circle.rotate_left(least);
                    let first = circle[0].clone();
                    circle.push(first);
                    circles.insert(circle.join(" → "));
                    queue.clear();
                    break;
                }
                if !came_from.contains_key(next) && next != start {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
    }
    circles.into_iter().collect()
}

#[test]
fn no_two_files_of_a_folder_import_each_other_even_by_way_of_others() {
    let src = root().join("host/src");
    let mut paths = Vec::new();
    source_files(&src, &src, &mut paths);
    let files: Vec<(PathBuf, String)> = paths
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(src.join(&f)).unwrap();
            (f, text)
        })
        .collect();
    assert!(files.len() > 20, "found only {} source files", files.len());
    let circles = circles_between_files(&files);
    assert!(
        circles.is_empty(),
        "files of one folder import each other (split out what both need, or move it down):\n{}",
        circles.join("\n")
    );
}

#[test]
fn a_circle_planted_between_two_files_is_found() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
    let planted = [
        file("lib.rs", "mod shop;\n"),
        file(
            "shop/mod.rs",
            "mod till;\nmod shelf;\nmod door;\npub use shelf::Shelf;\n",
        ),
        file("shop/till.rs", "use super::Shelf;\nuse crate::shop::door::Door;\n"),
        file(
            "shop/shelf.rs",
            "use super::{door::Bell as _};\n#[cfg(test)]\nmod tests {\n    use super::super::till::Till;\n}\n",
        ),
        file(
            "shop/door.rs",
            "pub struct Door;\nfn ring() { super::till::Till::ring() }\n",
        ),
    ];
    assert_eq!(
        circles_between_files(&planted),
        [
            "shop/door → shop/till → shop/door",
            "shop/door → shop/till → shop/shelf → shop/door"
        ]
    );
    // Without the door's call back, nothing goes round: the test module's import does not count.
    let mut fixed = planted.clone();
    fixed[4] = file("shop/door.rs", "pub struct Door;\n");
    assert_eq!(circles_between_files(&fixed), Vec::<String>::new());
}
