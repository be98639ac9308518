//! One staged plugin version: what it is, what it says about itself, and what its calls left
//! behind. Staging is in `stage.rs`, calling in `call.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::admission::Claims;
use super::artifacts::ArtifactLease;
use super::engine::PluginEngine;
use super::kept_state::KeptState;
use super::log_budget::{Dropped, LogBudget};
use super::world::PluginKind;
use crate::config::PluginPolicy;
use crate::shared::call::{Fingerprint, PluginFacts};
use crate::shared::contract::PluginInfo;
use crate::shared::entry::EntryRules;
use crate::shared::identity::PluginId;
use crate::shared::needs::Needs;

/// A compiled plugin that has described itself, accepted its config and passed its trial.
pub struct LoadedPlugin {
    /// Who it is: its file name, which its `describe()` name matched.
    pub id: PluginId,
    /// The plugin's metadata from `describe()`, checked against every bound.
    pub info: PluginInfo,
    /// The history and candles `info` asks for, the key its market is cut by.
    pub(super) needs: Needs,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The version's content hash and side config.
    pub fingerprint: Fingerprint,
    /// The file's contents as staged: a version rolled back to is saved from them, since its
    /// file has been replaced by then.
    pub(super) bytes: Arc<[u8]>,
    /// Its world and pre-instantiated component.
    pub kind: PluginKind,
    /// Its limits and grants.
    pub policy: PluginPolicy,
    /// When this version was staged, ms since the Unix epoch.
    pub loaded_at_ms: i64,
    /// Peak linear memory of its last call, in bytes.
    pub(super) last_peak_memory: AtomicUsize,
    /// What its calls may write to the log, and what they had dropped.
    pub(super) log: Arc<LogBudget>,
    /// The JSON handed to `init` on every call.
    pub(super) config_json: String,
    /// The engine its stores are made by.
    pub(super) engine: Arc<PluginEngine>,
    /// Who signed it, under `[trust]`; `None` when signatures are not required.
    pub signer: Option<String>,
    /// Keeps its compiled artifact in the compile cache while this version is staged.
    pub(super) _artifact: Option<Arc<ArtifactLease>>,
    /// What its accepted calls left for the next (contract 0.4.0; empty for older versions).
    pub(super) state: Arc<KeptState>,
}

impl Claims for Arc<LoadedPlugin> {
    fn id(&self) -> &PluginId {
        &self.id
    }
    fn key_prefixes(&self) -> &[String] {
        &self.info.key_prefixes
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

impl LoadedPlugin {
    /// Peak linear memory of the last call, in bytes.
    pub fn last_peak_memory(&self) -> usize {
        self.last_peak_memory.load(Ordering::Relaxed)
    }

    /// Whether its calls count the instructions they execute (`[sandbox] count_instructions`).
    pub fn counts_instructions(&self) -> bool {
        self.engine.counting()
    }

    /// Log lines and bytes its calls dropped over their budget since the last take, for the
    /// metrics.
    pub fn take_log_dropped(&self) -> Dropped {
        self.log.take_dropped()
    }

    /// What status and metrics show of this version.
    pub fn facts(&self) -> PluginFacts {
        PluginFacts {
            name: self.id.to_string(),
            kind: self.kind.label(),
            contract: self.kind.contract().version(),
            version: self.info.version.clone(),
            fingerprint: self.fingerprint.clone(),
            file: self.path.display().to_string(),
            loaded_at_ms: self.loaded_at_ms,
            peak_memory_bytes: self.last_peak_memory(),
            signer: self.signer.clone(),
            state_bytes: self.state_bytes(),
            max_state_bytes: self.info.max_state_bytes,
            state_format: self.info.state_format.clone(),
        }
    }

    /// The state its next call gets: what its last accepted call returned, or (before its
    /// first call) that of the version it starts from.
    pub fn state(&self) -> Arc<[u8]> {
        self.state.current()
    }

    /// Keeps the state an accepted call returned, for the next call. The cycle calls it for a
    /// call whose result it accepted within the deadline, never for a call given up on.
    pub fn keep_state(&self, state: Vec<u8>) {
        self.state.keep(state);
    }

    /// How many bytes of state it keeps now, for status.
    pub fn state_bytes(&self) -> usize {
        self.state.len()
    }

    /// Makes it start from `version`'s state, read when its first cycle starts.
    pub(super) fn start_from(&self, version: &Arc<LoadedPlugin>) {
        self.state.start_from(version.state.clone());
    }

    /// The history and candles it asked for in `describe()`.
    pub fn needs(&self) -> &Needs {
        &self.needs
    }

    /// The JSON its `init` gets on every call: its side file, else its config table, else `{}`.
    pub fn config_json(&self) -> &str {
        &self.config_json
    }

    /// What each cache entry it returns is checked against: the prefixes it declared (and was
    /// granted), the keys it may write as text, and the policy's TTL and size bounds.
    pub fn entry_rules(&self) -> EntryRules<'_> {
        EntryRules {
            owner: self.id.as_str(),
            key_prefixes: &self.info.key_prefixes,
            text_keys: &self.policy.text_keys,
            default_ttl: self.policy.default_ttl,
            min_ttl: self.policy.min_ttl,
            max_ttl: self.policy.max_ttl,
            max_value_bytes: self.policy.max_value_bytes,
        }
    }

    /// The first 12 hex digits of the content hash, for logs.
    pub fn short_hash(&self) -> &str {
        &self.fingerprint.hash[..12]
    }
}
