//! No circle between the files of a folder: for every folder of `host/src` (and the crate's
//! top-level modules), the files and subfolders in it never import each other round, directly
//! or by way of others. Read from the source: `use` trees, paths written inline, what a
//! folder's root imports or re-exports (followed to the file that defines it), and inline
//! modules; test modules are left out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use super::{root, source_files};

/// A module path from the crate root (`["status", "live"]`).
type ModulePath = Vec<String>;

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

/// `text` with comments removed and the contents of string and character literals blanked,
/// newlines kept: what is left is code, whose braces and paths can be counted and read.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                match (chars[i], chars.get(i + 1)) {
                    ('/', Some('*')) => {
                        depth += 1;
                        i += 2;
                    }
                    ('*', Some('/')) => {
                        depth -= 1;
                        i += 2;
                    }
                    (c, _) => {
                        out.push(blank(c));
                        i += 1;
                    }
                }
                if depth == 0 {
                    break;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !is_ident(chars.get(i.wrapping_sub(1)).copied()) {
            // A raw string: r"..." or r#"..."#, closed by a quote and as many hashes.
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            i += 2 + hashes;
            while i < chars.len() && !(chars[i] == '"' && chars[i + 1..].iter().take(hashes).all(|&c| c == '#')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push('"');
            i += 1 + hashes;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let skip = if chars[i] == '\\' { 2 } else { 1 };
                for &c in &chars[i..(i + skip).min(chars.len())] {
                    out.push(blank(c));
                }
                i += skip;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('{', '\n', '\''); a lifetime ('a) is code.
            // It ends at the first quote after its character, or after its escape.
            let first = if next == Some('\\') { i + 3 } else { i + 2 };
            let end = (first..chars.len()).find(|&k| chars[k] == '\'').unwrap_or(first);
            out.push_str("' '");
            i = end + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `c` can be part of an identifier.
fn is_ident(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Every path a `use` tree names, expanded, each with the name it is known by where it is
/// imported: `a::{b, c::{d as e}}` → (`a::b`, `b`), (`a::c::d`, `e`).
fn use_tree(tree: &str) -> Vec<(ModulePath, String)> {
    fn segments(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "self")
            .map(String::from)
    }
    fn expand(prefix: &[String], tree: &str, out: &mut Vec<(ModulePath, String)>) {
        let tree = tree.trim();
        let Some(open) = tree.find('{') else {
            let (path, alias) = match tree.split_once(" as ") {
                Some((path, alias)) => (path, Some(alias.trim())),
                None => (tree, None),
            };
            let path: ModulePath = prefix.iter().cloned().chain(segments(path)).collect();
            let name = alias
                .map(String::from)
                .or_else(|| path.last().cloned())
                .unwrap_or_default();
            out.push((path, name));
            return;
        };
        let path: ModulePath = prefix.iter().cloned().chain(segments(&tree[..open])).collect();
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

/// What one file says, read from its code: the inline modules it holds, and each path it
/// names with the module (its own, or an inline one) it names it in.
#[derive(Default)]
struct FileReading {
    /// Inline modules (`mod bindings { .. }`), test modules left out.
    inline: Vec<ModulePath>,
    /// Each `use` tree's paths, with their names there, by the module they are imported in.
    imports: Vec<(ModulePath, ModulePath, String)>,
    /// Every path named inline (`crate::a::b`, `super::c`), by the module it is named in.
    inline_paths: Vec<(ModulePath, ModulePath)>,
}

/// Reads the code of the file of module `own`.
fn read(own: &ModulePath, code: &str) -> FileReading {
    let mut reading = FileReading::default();
    // Open inline modules: their path, the depth their body is at, whether they are tests.
    let mut open: Vec<(ModulePath, i32, bool)> = Vec::new();
    let mut depth = 0;
    let mut test_attribute = false;
    let mut pending: Option<(ModulePath, String)> = None;
    for line in code.lines() {
        let trimmed = line.trim();
        let here = open.last().map_or_else(|| own.clone(), |(path, _, _)| path.clone());
        let in_test = open.iter().any(|(_, _, test)| *test);
        let declared = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix('{'))
            .map(str::trim);
        if let Some(name) = declared {
            let mut path = here.clone();
            path.push(name.to_string());
            if !(test_attribute || in_test) {
                reading.inline.push(path.clone());
            }
            open.push((path, depth + 1, test_attribute || in_test));
        }
        if !in_test && !test_attribute {
            let start = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|s| trimmed.strip_prefix(s));
            match (&mut pending, start) {
                (Some((_, statement)), _) => {
                    statement.push(' ');
                    statement.push_str(trimmed);
                }
                (None, Some(tree)) => pending = Some((here.clone(), tree.to_string())),
                (None, None) => {}
            }
            if pending.as_ref().is_some_and(|(_, s)| s.contains(';')) {
                let (module, statement) = pending.take().unwrap();
                for (path, name) in use_tree(statement.split(';').next().unwrap_or_default()) {
                    reading.imports.push((module.clone(), path, name));
                }
            }
            for start in ["crate::", "super::", "self::"] {
                for (at, _) in line.match_indices(start) {
                    if line[..at].chars().last().is_some_and(|c| is_ident(Some(c)) || c == ':') {
                        continue;
                    }
                    let path: String = line[at..]
                        .chars()
                        .take_while(|c| is_ident(Some(*c)) || *c == ':')
                        .collect();
                    let path = path.split("::").filter(|s| !s.is_empty()).map(String::from).collect();
                    reading.inline_paths.push((here.clone(), path));
                }
            }
        }
        test_attribute = trimmed == "#[cfg(test)]" || (test_attribute && trimmed.starts_with("#["));
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        while open.last().is_some_and(|(_, body, _)| depth < *body) {
            open.pop();
        }
    }
    reading
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
    // The root imports the bell privately (children see it), renames it, and re-exports a
    // re-export; the lamp names the root's item from inside an inline module.
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
}
