//! `pulse new analyzer|aggregator NAME [--lang rust|js|python]`: writes a ready plugin project
//! that builds to a working component with one command and has a passing native test, using
//! nothing but what the `pulse` binary carries (the SDK, the WIT, the templates).

mod guide;
mod js;
mod python;
mod rust;
mod sdk;

pub use guide::Topic;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Which template `pulse new` writes: an analyzer or an aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// Scores symbols.
    Analyzer,
    /// Writes cache entries.
    Aggregator,
}

/// The language of the plugin `pulse new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate on the Pulse SDK, built with cargo for `wasm32-wasip2`.
    Rust,
    /// A JavaScript module, built with componentize-js (npm).
    Js,
    /// A Python module, built with componentize-py (PyPI).
    Python,
}

/// What `pulse new` made: the project's folder and the commands that take it to a checked
/// component, in order.
pub struct Created {
    /// The new project's folder.
    pub root: PathBuf,
    /// The commands to run in `root`, in order: install (if the language needs it), test,
    /// build, check.
    pub next_steps: Vec<String>,
}

/// Creates `dir/NAME` with a plugin project in `lang`.
pub fn create(template: Template, lang: Lang, name: &str, dir: &Path) -> Result<Created> {
    let name_ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        bail!("plugin name {name:?} must start with a-z and hold only a-z, 0-9 and '-'");
    }
    if lang == Lang::Rust && RESERVED_FOR_RUST.contains(&name) {
        bail!(
            "plugin name {name:?} cannot name a Rust crate (a keyword, a standard crate or a dependency of the crate)"
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let project = Project {
        root,
        name,
        kind: template,
    };
    let next_steps = match lang {
        Lang::Rust => rust::write(&project, dir)?,
        Lang::Js => js::write(&project, dir)?,
        Lang::Python => python::write(&project, dir)?,
    };
    if template == Template::Aggregator {
        project.write(&[("pulse.toml", include_str!("scaffold/grant.toml.tmpl"))], &[])?;
    }
    Ok(Created {
        root: project.root,
        next_steps,
    })
}

/// The project being written, and the placeholders every template may use.
struct Project<'a> {
    /// The project's folder, `dir/NAME`.
    root: PathBuf,
    /// The plugin's name, as `describe` returns it.
    name: &'a str,
    /// Analyzer or aggregator.
    kind: Template,
}

impl Project<'_> {
    /// The plugin file's stem: the name with '-' as '_' (the daemon reads it back as the name).
    fn file_stem(&self) -> String {
        self.name.replace('-', "_")
    }

    /// The command that checks the built component.
    fn check_step(&self, wasm: &str) -> String {
        format!("pulse check {wasm}{}", self.check_args())
    }

    /// What `pulse check` needs beside the file: an aggregator's key grant, in `pulse.toml`.
    fn check_args(&self) -> &'static str {
        match self.kind {
            Template::Analyzer => "",
            Template::Aggregator => " --config pulse.toml",
        }
    }

    /// For an aggregator's README: the key grant it needs, which `pulse.toml` beside it holds.
    fn grant_note(&self) -> &'static str {
        match self.kind {
            Template::Analyzer => "",
            Template::Aggregator => {
                "\nAn aggregator writes only under key prefixes an operator grants it: `pulse.toml` here holds\n\
                 its grant. Copy its lines into the daemon's config; `pulse check` reads it with\n\
                 `--config pulse.toml`.\n"
            }
        }
    }

    /// Writes each `(path, template)` under the root, filling `{{name}}`, `{{crate}}`,
    /// `{{kind}}`, `{{wit_version}}`, `{{check_args}}`, `{{grant_note}}` and the `extra`
    /// placeholders.
    fn write(&self, files: &[(&str, &str)], extra: &[(&str, String)]) -> Result<()> {
        let kind = match self.kind {
            Template::Analyzer => "analyzer",
            Template::Aggregator => "aggregator",
        };
        let fill = |template: &str| {
            let mut text = template
                .replace("{{name}}", self.name)
                .replace("{{crate}}", &self.file_stem())
                .replace("{{kind}}", kind)
                .replace("{{wit_version}}", sdk::version())
                .replace("{{check_args}}", self.check_args())
                .replace("{{grant_note}}", self.grant_note());
            for (placeholder, value) in extra {
                text = text.replace(placeholder, value);
            }
            text
        };
        for (file, template) in files {
            let path = self.root.join(file);
            let folder = path.parent().expect("a project file is in a folder");
            std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
            std::fs::write(&path, fill(template)).with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// Names `pulse new` refuses for a Rust crate: cargo refuses the keywords and the standard
/// crates' names, and a crate named after one of its dependencies cannot build.
#[rustfmt::skip]
const RESERVED_FOR_RUST: &[&str] = &[
    "abstract", "alloc", "as", "async", "await", "become", "box", "break", "const", "continue", "core", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "proc-macro", "pub", "pulse-sdk", "ref",
    "return", "self", "serde", "static", "std", "struct", "super", "test", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "wit-bindgen", "yield",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flat_map(|entry| {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files_under(&path)
                } else {
                    vec![path]
                }
            })
            .collect()
    }

    #[test]
    fn every_template_fills_every_placeholder() {
        let dir = tempfile::tempdir().unwrap();
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            for kind in [Template::Analyzer, Template::Aggregator] {
                let name = format!("p-{lang:?}-{kind:?}").to_lowercase();
                let created = create(kind, lang, &name, dir.path()).unwrap();
                assert!(!created.next_steps.is_empty());
                for file in files_under(&created.root) {
                    let text = std::fs::read_to_string(&file).unwrap();
                    let placeholder = text.match_indices("{{").find(|(at, _)| {
                        let rest = &text[at + 2..];
                        let word = rest.len()
                            - rest
                                .trim_start_matches(|c: char| c.is_ascii_lowercase() || c == '_')
                                .len();
                        word > 0 && rest[word..].starts_with("}}")
                    });
                    assert!(placeholder.is_none(), "{} keeps a placeholder", file.display());
                }
            }
        }
    }

    #[test]
    fn a_bad_name_or_an_existing_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["", "Upper", "9lives", "dot.ted", "under_score"] {
            let error = create(Template::Analyzer, Lang::Js, name, dir.path()).err().unwrap();
            assert!(error.to_string().contains("must start with a-z"), "{name}: {error}");
        }
        for name in ["test", "serde", "pulse-sdk"] {
            let error = create(Template::Analyzer, Lang::Rust, name, dir.path()).err().unwrap();
            assert!(
                error.to_string().contains("cannot name a Rust crate"),
                "{name}: {error}"
            );
        }
        create(Template::Analyzer, Lang::Js, "test", dir.path()).unwrap();
        create(Template::Analyzer, Lang::Js, "twice", dir.path()).unwrap();
        let error = create(Template::Analyzer, Lang::Python, "twice", dir.path())
            .err()
            .unwrap();
        assert!(error.to_string().contains("already exists"), "{error}");
    }
}
