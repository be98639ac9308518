//! What the pipeline tells the status stage about plugins, as plain data: how a call went and
//! which version of which plugin is loaded.

/// How a plugin call failed, for the per-kind counters operators alert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// Stopped at its deadline (epoch interruption, or abandoned in a blocking host call).
    Timeout,
    /// Executed more wasm instructions than its budget (`max_instructions`): unlike a
    /// deadline, the same call on the same input fails the same way every time (same build and
    /// config).
    InstructionBudget,
    /// Trapped: a panic, an abort or another WebAssembly trap.
    Trap,
    /// Tried to grow its linear memory past its cap.
    MemoryCap,
    /// Handed the host more than a bound allows: too many bytes, entries, names or values.
    OverLimit,
    /// Asked the host for more than a per-call bound on host resources (WASI handles, random
    /// bytes, output).
    HostLimit,
    /// Returned more state than it declared (`max-state-bytes`); the state it had is kept.
    StateBound,
    /// Returned an error, or output that breaks the contract (e.g. misaligned verdicts).
    Error,
}

impl Failure {
    /// Every kind, in the order metrics and status list them.
    pub const ALL: [Failure; 8] = [
        Failure::Timeout,
        Failure::InstructionBudget,
        Failure::Trap,
        Failure::MemoryCap,
        Failure::OverLimit,
        Failure::HostLimit,
        Failure::StateBound,
        Failure::Error,
    ];

    /// The kind's name in metrics labels and `pulse:status`.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::InstructionBudget => "instructions",
            Failure::Trap => "trap",
            Failure::MemoryCap => "memory_cap",
            Failure::OverLimit => "over_limit",
            Failure::HostLimit => "host_limit",
            Failure::StateBound => "state",
            Failure::Error => "error",
        }
    }
}

/// The outcome of one plugin call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// When the call started, ms since the Unix epoch.
    pub started_ms: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How it failed, if it did.
    pub failure: Option<Failure>,
    /// Log lines it dropped over its log budget.
    pub log_dropped_lines: u64,
    /// Bytes of those lines.
    pub log_dropped_bytes: u64,
    /// WebAssembly instructions it executed (instantiation, `init` and the call), counted by
    /// wasmtime's fuel; `None` when `[sandbox] count_instructions` is off or the call failed
    /// (a failed call's count is partial: a deadline's depends on the machine).
    pub instructions: Option<u64>,
}

/// What tells one version of a plugin file from another: a change to either part restages it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    /// SHA-256 of the wasm file, in hex.
    pub hash: String,
    /// Contents of `NAME.toml` beside `NAME.wasm`, if there is one.
    pub side_config: Option<String>,
    /// Contents of the detached signature `NAME.wasm.sig` beside it, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One loaded plugin version, as `pulse:status`, `/plugins` and the metrics show it.
#[derive(Debug, Clone)]
pub struct PluginFacts {
    /// Its identity.
    pub name: String,
    /// `analyzer` or `aggregator`.
    pub kind: &'static str,
    /// The version of the plugin contract it speaks (`0.1.0` to `0.4.0`).
    pub contract: &'static str,
    /// The version it describes itself with.
    pub version: String,
    /// What tells this version from another.
    pub fingerprint: Fingerprint,
    /// The file it was loaded from.
    pub file: String,
    /// When this version was staged, ms since the Unix epoch.
    pub loaded_at_ms: i64,
    /// Peak linear memory of its last call, in bytes.
    pub peak_memory_bytes: usize,
    /// Who signed it, when `[trust]` requires signatures.
    pub signer: Option<String>,
    /// The state it keeps for its next call, in bytes.
    pub state_bytes: usize,
    /// The most state it declared it keeps, in bytes.
    pub max_state_bytes: u32,
    /// The format it named for its state (empty for none).
    pub state_format: String,
}

#[cfg(test)]
impl PluginFacts {
    /// An analyzer version `name` of contract 0.4.0 whose file hashes to `hash`, loaded at the
    /// epoch, unsigned, keeping no state: what the status tests start from.
    pub fn example(name: &str, hash: &str) -> Self {
        Self {
            name: name.into(),
            kind: "analyzer",
            contract: "0.4.0",
            version: "1.0.0".into(),
            fingerprint: Fingerprint {
                hash: hash.into(),
                side_config: None,
                signature: None,
            },
            file: format!("{name}.wasm"),
            loaded_at_ms: 0,
            peak_memory_bytes: 0,
            signer: None,
            state_bytes: 0,
            max_state_bytes: 0,
            state_format: String::new(),
        }
    }
}

/// A version on probation that is to give way to the version it replaced: the status board
/// finds it due, the pipeline hands it to the reloader, which swaps the previous version back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rollback {
    /// The plugin's identity.
    pub plugin: String,
    /// The SHA-256 of the version that gives way.
    pub hash: String,
    /// The rule it broke, with the figures.
    pub reason: String,
    /// The cycle in which it was found due.
    pub cycle: u64,
}

impl Rollback {
    /// When and why, as log lines and the refusals of its file say it: `in cycle N: REASON`.
    pub fn cause(&self) -> String {
        format!("in cycle {}: {}", self.cycle, self.reason)
    }
}
