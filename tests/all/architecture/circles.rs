//! No circle between the files of a folder: for every folder of `host/src` (and the crate's
//! top-level modules), the files and subfolders in it never import each other round, directly
//! or by way of others. Read from the source: `use` trees, paths written inline, what a
//! folder's root imports or re-exports (followed to the file that defines it), and inline
//! modules; test modules are left out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use super::reading::{code_only, read, FileReading, ModulePath};
use super::{root, source_files};

/// A file's module path: `status/live.rs` → `status::live`, `status/mod.rs` → `status`,
/// `lib.rs` and `main.rs` → the root.
fn module_path(file: &Path) -> ModulePath {
    let mut parts: ModulePath = file
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// Every module, and what each one imports by name (its `use` trees, private or re-exported).
type Modules = BTreeMap<ModulePath, Vec<(ModulePath, String)>>;

/// The module that holds what `path`, named in module `here`, names: items a module imports are
/// followed to the module they come from (a few hops at most, as re-exports chain).
fn target(path: &[String], here: &[String], modules: &Modules, hops: u32) -> Option<ModulePath> {
    let first = path.first()?;
    let mut at: ModulePath = match first.as_str() {
        "crate" => Vec::new(),
        "super" => here[..here.len().saturating_sub(1)].to_vec(),
        "self" => here.to_vec(),
        _ => here.to_vec(),
    };
    let mut rest = &path[usize::from(matches!(first.as_str(), "crate" | "super" | "self"))..];
    while rest.first().is_some_and(|s| s == "super") {
        at.pop();
        rest = &rest[1..];
    }
    if !matches!(first.as_str(), "crate" | "super" | "self") {
        // A plain first segment is a child module of `here` (`use market::Market;`) or a name
        // `here` imported; anything else (`std`, another crate) is not ours.
        let mut child = at.clone();
        child.push(first.clone());
        let imported = modules
            .get(&at)
            .is_some_and(|u| u.iter().any(|(_, name)| name == first));
        if !modules.contains_key(&child) && !imported {
            return None;
        }
    }
    for (i, segment) in rest.iter().enumerate() {
        let mut next = at.clone();
        next.push(segment.clone());
        if modules.contains_key(&next) {
            at = next;
            continue;
        }
        let imported = modules
            .get(&at)
            .and_then(|u| u.iter().find(|(_, name)| name == segment));
        if let Some((from, _)) = imported.filter(|_| hops < 8) {
            let mut via = from.clone();
            via.extend(rest[i + 1..].iter().cloned());
            return target(&via, &at, modules, hops + 1).or(Some(at));
        }
        break;
    }
    Some(at)
}

/// Every circle between the files (or subfolders) of one folder, each as `a → b → a`.
fn circles_between_files(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut files: Vec<&(PathBuf, String)> = files
        .iter()
        .filter(|(f, _)| f.file_name().is_some_and(|n| n != "tests.rs"))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let readings: Vec<(ModulePath, FileReading)> = files
        .iter()
        .map(|(file, text)| {
            let own = module_path(file);
            let reading = read(&own, &code_only(text));
            (own, reading)
        })
        .collect();
    let mut modules = Modules::new();
    for (own, reading) in &readings {
        modules.entry(own.clone()).or_default();
        for inline in &reading.inline {
            modules.entry(inline.clone()).or_default();
        }
        for (module, path, name) in &reading.imports {
            modules
                .entry(module.clone())
                .or_default()
                .push((path.clone(), name.clone()));
        }
    }
    let mut edges: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    for (_, reading) in &readings {
        let named = reading
            .imports
            .iter()
            .map(|(m, p, _)| (m, p))
            .chain(reading.inline_paths.iter().map(|(m, p)| (m, p)));
        for (here, path) in named {
            let Some(to) = target(path, here, &modules, 0) else {
                continue;
            };
            // The two siblings this import joins: the children of the deepest folder holding both.
            let common = here.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common < here.len() && common < to.len() {
                edges
                    .entry(here[..=common].to_vec())
                    .or_default()
                    .insert(to[..=common].to_vec());
            }
        }
    }
    shortest_circles(&edges)
}

/// The shortest circle through each node of `edges` that has one, each said once.
fn shortest_circles(edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<String> {
    let mut circles = BTreeSet::new();
    for start in edges.keys() {
        let mut came_from: BTreeMap<&ModulePath, &ModulePath> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        'search: while let Some(at) = queue.pop_front() {
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
                    circle.push(circle[0].clone());
                    circles.insert(circle.join(" → "));
                    break 'search;
                }
                if next != start && !came_from.contains_key(next) {
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

#[test]
fn circles_are_found_through_private_imports_renames_chains_and_inline_modules() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
    // The root imports the door privately (its children see it) under another name, and
    // re-exports the lamp's re-export; the bell names the door by that name, and the door names
    // the bell from inside an inline module. In the chained case the lamp's bulb names the door
    // through the root, and the door the bulb through two re-exports.
    let planted = [
        file(
            "shop/mod.rs",
            "mod bell;\nmod door;\nmod lamp;\nuse door::Door as Entrance;\npub use lamp::Light;\n",
        ),
        file(
            "shop/bell.rs",
            "use super::Entrance;\n/* use super::lamp::Lamp; */\nconst S: &str = \"super::lamp::X\";\n",
        ),
        file(
            "shop/door.rs",
            "pub struct Door;\nmod parts {\n    use super::super::bell::Bell;\n}\n",
        ),
        file("shop/lamp/mod.rs", "mod bulb;\npub use bulb::Light;\n"),
        file("shop/lamp/bulb.rs", "pub struct Light;\n"),
    ];
    assert_eq!(circles_between_files(&planted), ["shop/bell → shop/door → shop/bell"]);
    let mut chained = planted.clone();
    chained[4] = file(
        "shop/lamp/bulb.rs",
        "pub struct Light;\nfn wire() { crate::shop::Entrance::open() }\n",
    );
    chained[2] = file("shop/door.rs", "pub struct Door;\nuse crate::shop::Light;\n");
    assert_eq!(circles_between_files(&chained), ["shop/door → shop/lamp → shop/door"]);
    // A byte raw string holding a quote and a brace, and a one-line test module, hide nothing
    // and add nothing: the bell's import after them still counts, the test's does not.
    let mut literal = planted.clone();
    literal[1] = file(
        "shop/bell.rs",
        "const B: &[u8] = br#\"{\\\"\"#;\n#[cfg(test)] mod tests { use super::super::lamp::Lamp; }\nuse super::Entrance;\n",
    );
    assert_eq!(circles_between_files(&literal), ["shop/bell → shop/door → shop/bell"]);
}
