//! Reading a source file as the circle finder needs it: code with comments and literals
//! blanked, the `use` trees expanded with the names they import, inline modules, and the paths
//! written inline, each with the module it is written in. Test modules are left out.

/// A module path from the crate root (`["status", "live"]`).
pub(super) type ModulePath = Vec<String>;

/// `text` with comments removed and the contents of string and character literals blanked,
/// newlines kept: what is left is code, whose braces and paths can be counted and read.
pub(super) fn code_only(text: &str) -> String {
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
        } else if c == 'r' && matches!(next, Some('"' | '#')) && starts_literal(&chars, i) {
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

/// Whether the `r` at `i` starts a raw string (`r"`, `br"`, `cr"`) rather than ends a name.
fn starts_literal(chars: &[char], i: usize) -> bool {
    let before = |k: usize| i.checked_sub(k).map(|at| chars[at]);
    !is_ident(before(1)) || matches!(before(1), Some('b' | 'c')) && !is_ident(before(2))
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
pub(super) struct FileReading {
    /// Inline modules (`mod bindings { .. }`), test modules left out.
    pub(super) inline: Vec<ModulePath>,
    /// Each `use` tree's paths, with their names there, by the module they are imported in.
    pub(super) imports: Vec<(ModulePath, ModulePath, String)>,
    /// Every path named inline (`crate::a::b`, `super::c`), by the module it is named in.
    pub(super) inline_paths: Vec<(ModulePath, ModulePath)>,
}

/// Reads the code of the file of module `own`.
pub(super) fn read(own: &ModulePath, code: &str) -> FileReading {
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
        // `#[cfg(test)] mod tests {` on one line is a test module too.
        let (same_line_test, trimmed) = match trimmed.strip_prefix("#[cfg(test)]") {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        let for_tests = test_attribute || same_line_test;
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
            if !(for_tests || in_test) {
                reading.inline.push(path.clone());
            }
            open.push((path, depth + 1, for_tests || in_test));
        }
        if !in_test && !for_tests {
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
        // An attribute holds for the next item, past other attributes and blank lines (comments
        // are blank by now).
        test_attribute = (same_line_test && trimmed.is_empty())
            || (test_attribute && !same_line_test && (trimmed.starts_with("#[") || trimmed.is_empty()));
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        while open.last().is_some_and(|(_, body, _)| depth < *body) {
            open.pop();
        }
    }
    reading
}
