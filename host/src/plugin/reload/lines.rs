//! The reloader's log lines: a version loaded or swapped in, refused at admission or at a
//! stage, with the version still serving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use tracing::{error, info, warn};

use crate::plugin::admission::Refusal;
use crate::plugin::file::PluginSource;
use crate::plugin::loaded::LoadedPlugin;
use crate::plugin::stage::Stage;
use crate::shared::text::quoted_path;

/// Logs a version that now serves: loaded, or swapped in for `old`.
pub(super) fn log_admitted(p: &LoadedPlugin, old: Option<&LoadedPlugin>, time: Duration, cached: bool) {
    let staging_ms = time.as_secs_f64() * 1000.0;
    let compiled = if cached { "from compile cache" } else { "compiled" };
    match old {
        None => info!(
            plugin = %p.id,
            version = %p.info.version,
            kind = p.kind.label(),
            hash = p.short_hash(),
            file = %quoted_path(&p.path),
            staging_ms,
            "loaded plugin {} {} ({compiled})",
            p.id,
            p.info.version
        ),
        Some(old) => info!(
            plugin = %p.id,
            version = %p.info.version,
            kind = p.kind.label(),
            hash = p.short_hash(),
            old_version = %old.info.version,
            old_hash = old.short_hash(),
            file = %quoted_path(&p.path),
            staging_ms,
            "swapped plugin {} {} -> {} ({compiled}); it serves from the next cycle",
            old.id,
            old.info.version,
            p.info.version
        ),
    }
}

/// Logs a refusal at admission. It is not remembered as a rejection: the clash may go away
/// with another file.
pub(super) fn log_refused(refusal: &Refusal<Arc<LoadedPlugin>>) {
    match &refusal.candidates[..] {
        [one] => reject(
            &one.new.path,
            Stage::Admit,
            &anyhow!("{}", refusal.reason),
            one.old.as_deref(),
        ),
        many => error!(
            files = %many.iter().map(|c| quoted_path(&c.new.path)).collect::<Vec<_>>().join(", "),
            stage = Stage::Admit.label(),
            "rejected plugins at {}: {}",
            Stage::Admit,
            refusal.reason
        ),
    }
}

/// Logs a version refused at `stage`, and the one still serving if any.
pub(super) fn reject(path: &Path, stage: Stage, error: &anyhow::Error, still_serving: Option<&LoadedPlugin>) {
    let file = quoted_path(path);
    let stage = stage.label();
    match still_serving {
        Some(old) => error!(
            %file,
            stage,
            "rejected plugin {file} at {stage}: {error:#}; still serving {} {} ({})",
            old.id,
            old.info.version,
            old.short_hash()
        ),
        None => error!(%file, stage, "rejected plugin {file} at {stage}: {error:#}"),
    }
}

/// Logs a file refused because it was rolled back before this start, and what serves instead.
pub(super) fn log_still_refused(path: &Path, source: &PluginSource, why: &str, serving: &str) {
    warn!(
        file = %quoted_path(path),
        hash = &source.fingerprint.hash[..12],
        "refusing plugin {} ({}): it was rolled back {why}, and stays refused until it changes; {serving}",
        quoted_path(path),
        &source.fingerprint.hash[..12]
    );
}

/// Logs a refused version written again unchanged (copied again, promoted again): it stays
/// refused, for the reason it was refused before.
pub(super) fn log_refused_again(source: &PluginSource, why: &str, serving: Option<&LoadedPlugin>) {
    let path = &source.path;
    let serving = serving.map_or_else(
        || "nothing serves from this file".to_string(),
        |old| format!("still serving {} {} ({})", old.id, old.info.version, old.short_hash()),
    );
    warn!(
        file = %quoted_path(path),
        hash = &source.fingerprint.hash[..12],
        "refusing plugin {} ({}) again: this same build was {why}; change it or its config to try again; {serving}",
        quoted_path(path),
        &source.fingerprint.hash[..12]
    );
}
