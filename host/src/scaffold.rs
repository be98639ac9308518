//! `pulse new analyzer|aggregator NAME [--lang rust|js|python]`: writes a ready plugin project
//! that builds to a working component with one command and has a passing native test, using
//! nothing but what the `pulse` binary carries (the SDK, the WIT, the templates).

mod js;
mod python;
mod rust;
mod sdk;

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
    /// The commands to run in `root`: test, build, check.
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
        Lang::Js | Lang::Python if template == Template::Aggregator => bail!(
            "aggregators are written in Rust (pulse new aggregator {name}); analyzers come in Rust, JavaScript \
             and Python"
        ),
        Lang::Js => js::write(&project)?,
        Lang::Python => python::write(&project)?,
    };
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

    /// Writes each `(path, template)` under the root, filling `{{name}}`, `{{crate}}`,
    /// `{{kind}}`, `{{wit_version}}` and the `extra` placeholders.
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
                .replace("{{wit_version}}", &sdk::version());
            for (placeholder, value) in extra {
                text = text.replace(placeholder, value);
            }
            text
        };
        for (file, template) in files {
            let path = self.root.join(file);
            std::fs::create_dir_all(path.parent().expect("a project file is in a folder"))
                .with_context(|| format!("cannot create {}", self.root.display()))?;
            std::fs::write(&path, fill(template)).with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}
