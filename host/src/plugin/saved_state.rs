//! Plugin states across a restart: what the warm state saves of each loaded version's state,
//! and the rule that hands a saved state to a version loaded at start (`docs/plugin-contract.md`,
//! "State"): the same version (name, role and file hash) takes back its own, as does the same
//! file in the other role (a shadow promoted while the daemon was stopped); a version of the
//! same name and role that names the same state format takes it as it would from the version it
//! replaced; any other starts empty. A saved state larger than the version declares is refused
//! before it is decoded.

use std::sync::Arc;

use base64::Engine as _;

use super::file::is_shadow_file;
use super::generation::Generation;
use super::loaded::LoadedPlugin;
use crate::shared::warm_start::SavedVersionState;

/// How a saved state was handed back, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatesRestored {
    /// Versions that took back their own state.
    pub own: usize,
    /// Versions that took the state of a version of the same format.
    pub same_format: usize,
    /// Saved states refused: larger than their version declares, or not base64.
    pub refused: usize,
}

impl Generation {
    /// Every loaded version's state worth saving (not empty), serving versions then shadows.
    pub fn saved_states(&self) -> Vec<SavedVersionState> {
        self.every_version()
            .filter_map(|version| {
                let state = version.state.peek();
                (!state.is_empty()).then(|| SavedVersionState {
                    plugin: version.id.to_string(),
                    role: role(version).to_string(),
                    hash: version.fingerprint.hash.clone(),
                    format: version.info.state_format.clone(),
                    state: base64::engine::general_purpose::STANDARD.encode(&state),
                })
            })
            .collect()
    }

    /// Hands each version the saved state that is its own (the same file, in its role, else in
    /// the other), else one of the same plugin, role and state format. The pipeline calls it
    /// once, before the first cycle's calls, when no version has been called.
    pub fn restore_states(&self, saved: &[SavedVersionState]) -> StatesRestored {
        let mut restored = StatesRestored::default();
        for version in self.every_version() {
            let named = |s: &&SavedVersionState| s.plugin == version.id.as_str();
            let in_role = |s: &&SavedVersionState| named(s) && s.role == role(version);
            let same_file = |s: &&SavedVersionState| s.hash == version.fingerprint.hash;
            let own = saved
                .iter()
                .filter(in_role)
                .find(same_file)
                .or_else(|| saved.iter().filter(named).find(same_file));
            let format = &version.info.state_format;
            let alike = || {
                saved
                    .iter()
                    .filter(in_role)
                    .find(|s| !format.is_empty() && &s.format == format)
            };
            let Some((from, is_own)) = own.map(|s| (s, true)).or_else(|| alike().map(|s| (s, false))) else {
                continue;
            };
            match decode(from, version) {
                Some(state) => {
                    version.state.restore(state);
                    if is_own {
                        restored.own += 1;
                    } else {
                        restored.same_format += 1;
                    }
                }
                None => restored.refused += 1,
            }
        }
        restored
    }
}

/// `saved`'s bytes, if they are base64 and within what `version` declares; a text too long to
/// be within it is refused before anything is decoded.
fn decode(saved: &SavedVersionState, version: &LoadedPlugin) -> Option<Arc<[u8]>> {
    let max = version.info.max_state_bytes as usize;
    if saved.state.len() > max.div_ceil(3) * 4 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(&saved.state).ok()?;
    (bytes.len() <= max).then(|| bytes.into())
}

/// A version's role, as the saved state names it.
fn role(version: &LoadedPlugin) -> &'static str {
    if is_shadow_file(&version.path) {
        "shadow"
    } else {
        "serving"
    }
}
