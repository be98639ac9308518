//! Which state a version entering the generation starts from (`docs/plugin-contract.md`,
//! "State"): a promoted shadow goes on from its own; a new serving version from the version it
//! replaces, and a new shadow from the serving version of its name, when both name the same
//! state format; every other version starts empty. The state is read when the version's first
//! cycle starts (`kept_state.rs`), so nothing the old version does before then is lost.

use std::sync::Arc;

use tracing::info;

use crate::plugin::generation::Generation;
use crate::plugin::loaded::LoadedPlugin;

/// Makes `new`, about to serve in place of `replaced` (if any) with `current` serving now,
/// start from the state it inherits, and says so.
pub(super) fn serving(new: &LoadedPlugin, replaced: Option<&Arc<LoadedPlugin>>, current: &Generation) {
    let promoted = current
        .shadows
        .iter()
        .find(|s| s.id == new.id && s.fingerprint.hash == new.fingerprint.hash);
    let from = promoted.or(replaced.filter(|old| same_format(new, old)));
    if let Some(from) = from {
        start(
            new,
            from,
            if promoted.is_some() {
                "the shadow it was promoted from"
            } else {
                "the version it replaces"
            },
        );
    }
}

/// Makes the new shadow `shadow` start from the state of the version of its name in
/// `serving`, if both name the same state format, and says so.
pub(super) fn shadow(shadow: &LoadedPlugin, serving: &Generation) {
    if let Some(from) = serving.get(shadow.id.as_str()).filter(|s| same_format(shadow, s)) {
        start(shadow, from, "the serving version");
    }
}

/// Whether `a` and `b` name the same state format (an empty name matches nothing).
fn same_format(a: &LoadedPlugin, b: &LoadedPlugin) -> bool {
    !a.info.state_format.is_empty() && a.info.state_format == b.info.state_format
}

/// `version` starts from `from`'s state; `whose` says what `from` is, for the log.
fn start(version: &LoadedPlugin, from: &Arc<LoadedPlugin>, whose: &str) {
    version.start_from(from);
    info!(
        plugin = %version.id,
        version = %version.info.version,
        from_version = %from.info.version,
        from_hash = from.short_hash(),
        state_format = %from.info.state_format,
        "{} {} starts from the state of {whose}, {} ({}), as it is when its first cycle starts",
        version.id,
        version.info.version,
        from.info.version,
        from.short_hash()
    );
}
