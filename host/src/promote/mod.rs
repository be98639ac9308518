//! `pulse promote NAME --plugins DIR`: makes the shadow version of NAME serve, by renaming its
//! file (and its side config and signature, if it has them) over the serving plugin's in DIR. A rename within
//! one file system is atomic, so the daemon watching DIR sees the old version or the new one,
//! never half of either, and swaps at its next cycle boundary as for any hot swap; the file in
//! place is the promotion, so a restart or a failover keeps it. The right to write DIR is the
//! right to promote: the status server has no endpoint that changes anything. With
//! `--if-better`, the evidence is read first ([`evidence`]) and the rename happens only if the
//! shadow beats the serving version.

pub mod evidence;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::plugin::{signature_path, SHADOW_DIR};
use crate::shared::identity::PluginId;

/// What a promotion moved.
#[derive(Debug, PartialEq, Eq)]
pub struct Promoted {
    /// The shadow's file, now gone.
    pub from: PathBuf,
    /// Where it serves from.
    pub to: PathBuf,
    /// Whether it replaced a serving file (else it is the first version of its name).
    pub replaced: bool,
    /// Whether its side config moved with it.
    pub side_config: bool,
}

impl Promoted {
    /// What `pulse promote NAME --plugins DIR` prints: what moved, and what the daemon does.
    pub fn summary(&self, name: &str, dir: &Path) -> String {
        let was = match self.replaced {
            true => "replacing the serving version",
            false => "the first version of its name",
        };
        let config = if self.side_config { " with its config" } else { "" };
        format!(
            "promoted {name}: {} is now {}{config}, {was}; a daemon watching {} swaps it in at its next cycle",
            self.from.display(),
            self.to.display(),
            dir.display()
        )
    }
}

/// `pulse promote NAME --plugins DIR [--if-better ...]`: with a `gate`, judges the evidence
/// first and prints it, failing without a rename unless the shadow is better; then promotes and
/// prints what moved.
pub async fn run(name: &str, dir: &Path, gate: Option<evidence::Gate>) -> Result<()> {
    if let Some(gate) = gate {
        let judged = evidence::judge(name, dir, &gate).await?;
        println!("{}", judged.report);
        if !judged.better {
            anyhow::bail!("not promoted: {name}'s shadow is not better by the evidence above");
        }
    }
    println!("{}", promote(name, dir)?.summary(name, dir));
    Ok(())
}

/// Promotes the shadow version of `name` in plugin directory `dir`.
pub fn promote(name: &str, dir: &Path) -> Result<Promoted> {
    let id = PluginId::parse(name)
        .with_context(|| format!("{name:?} is not a plugin name: 1-64 characters of a-z, 0-9, '-' or '_'"))?;
    let shadows = dir.join(SHADOW_DIR);
    let from = plugin_named(&shadows, &id)?.with_context(|| {
        format!(
            "no shadow version of {name} in {}: put it there first, as {}",
            shadows.display(),
            shadows.join(format!("{name}.wasm")).display()
        )
    })?;
    let serving = plugin_named(dir, &id)?;
    let to = serving
        .clone()
        .unwrap_or_else(|| dir.join(from.file_name().unwrap_or_default()));
    // The config and signature first: the daemon then sees the new version with them at once.
    let side = from.with_extension("toml");
    let side_config = side.is_file();
    if side_config {
        rename(&side, &to.with_extension("toml"))?;
    }
    let signature = signature_path(&from);
    if signature.is_file() {
        rename(&signature, &signature_path(&to))?;
    } else if signature_path(&to).is_file() {
        // The serving version's signature cannot be the new one's.
        std::fs::remove_file(signature_path(&to))
            .with_context(|| format!("cannot remove {}", signature_path(&to).display()))?;
    }
    rename(&from, &to)?;
    Ok(Promoted {
        from,
        to,
        replaced: serving.is_some(),
        side_config,
    })
}

/// The `.wasm` file of `dir` whose identity is `id`, if any.
fn plugin_named(dir: &Path, id: &PluginId) -> Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        let is_wasm = path.extension().is_some_and(|e| e == "wasm") && path.is_file();
        if is_wasm && PluginId::of_file(&path).ok().as_ref() == Some(id) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Renames `from` over `to`, saying which failed and why.
fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).with_context(|| {
        format!(
            "cannot move {} to {} (is the plugin directory writable by you? a read-only one is \
             promoted by the deploy that writes it)",
            from.display(),
            to.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shadow_and_its_config_replace_the_serving_files_and_nothing_else_moves() {
        let dir = tempfile::tempdir().unwrap();
        let shadows = dir.path().join(SHADOW_DIR);
        std::fs::create_dir(&shadows).unwrap();
        std::fs::write(dir.path().join("demo_signal.wasm"), "old").unwrap();
        std::fs::write(dir.path().join("other.wasm"), "other").unwrap();
        std::fs::write(shadows.join("demo-signal.wasm"), "new").unwrap();
        std::fs::write(shadows.join("demo-signal.toml"), "x = 1").unwrap();

        let promoted = promote("demo-signal", dir.path()).unwrap();
        assert_eq!(
            promoted,
            Promoted {
                from: shadows.join("demo-signal.wasm"),
                to: dir.path().join("demo_signal.wasm"),
                replaced: true,
                side_config: true,
            }
        );
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(
            (read("demo_signal.wasm"), read("demo_signal.toml")),
            ("new".into(), "x = 1".into())
        );
        assert_eq!(read("other.wasm"), "other");
        assert_eq!(std::fs::read_dir(&shadows).unwrap().count(), 0);

        let again = promote("demo-signal", dir.path()).unwrap_err().to_string();
        assert!(again.starts_with("no shadow version of demo-signal in "), "{again}");
        let bad = promote("Demo", dir.path()).unwrap_err().to_string();
        assert!(bad.contains("is not a plugin name"), "{bad}");
    }

    #[test]
    fn a_first_version_is_promoted_under_its_own_file_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(SHADOW_DIR)).unwrap();
        std::fs::write(dir.path().join(SHADOW_DIR).join("fresh.wasm"), "v1").unwrap();
        let promoted = promote("fresh", dir.path()).unwrap();
        assert_eq!((promoted.to, promoted.replaced), (dir.path().join("fresh.wasm"), false));
    }
}
