//! `[sandbox]`: what plugins may do. The limits for every call, each plugin's overrides and key
//! grants, and the one policy type a plugin runs under with all of them resolved.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;

use super::{Bytes, Config, Count, Instructions, MemoryMib, Millis, ResidentMib, StateBytes, Ttl};

/// What plugins may do: limits for every call, and each plugin's overrides and key grants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sandbox {
    /// Wall-clock budget of one plugin call (instantiate, `init` and the call), in milliseconds.
    pub call_timeout_ms: Millis,
    /// Largest linear memory a plugin instance may grow to, in MiB.
    pub memory_mib: MemoryMib,
    /// Linear memory, in MiB, each instance slot keeps resident between calls, its contents
    /// reset to the plugin's initial image: the next call finds it mapped instead of faulting
    /// it in page by page. Costs up to this much RSS per slot in use (a plugin uses about one
    /// per core); 0 returns all of a call's memory to the kernel when it ends.
    pub resident_mib: ResidentMib,
    /// Largest cache value accepted, in bytes; keep it below memcached's item size (`-I`,
    /// 1 MiB by default), which also counts the key and a small header.
    pub max_value_bytes: Bytes,
    /// Shortest TTL an entry may ask for, in seconds.
    pub min_ttl: Ttl,
    /// Longest TTL an entry may ask for, in seconds.
    pub max_ttl: Ttl,
    /// Most cache entries one aggregator call may return.
    pub max_entries: Count,
    /// Most bytes (keys and values) one aggregator call may return.
    pub max_output_bytes: Bytes,
    /// Most bytes one analyzer call may return, as the host holds them (16 per verdict, 8 per
    /// component value, 24 plus its length per component name). Twenty analyzers at this bound
    /// still fit an aggregator's default memory cap.
    pub max_result_bytes: Bytes,
    /// Consecutive failed cycles after which a plugin is quarantined.
    pub quarantine_after: Count,
    /// Whether the daemon counts each call's WebAssembly instructions (wasmtime's fuel): the
    /// one measure of a call's cost that repeats from run to run (same build and config). Off by default,
    /// since it slows the cycle by more than 5 % at 10,000 symbols (BENCHMARKS.md); `pulse
    /// check` and `pulse replay` always count. Counting changes the code compiled, so plugins
    /// compile again (once, then from the compile cache) when it is turned on or off.
    pub count_instructions: bool,
    /// Most instructions one call may execute (instantiation, `init` and the call); a call
    /// past it fails as `instructions`. None by default; needs `count_instructions`.
    pub max_instructions: Option<Instructions>,
    /// Most bytes of state one plugin version may keep between calls: a plugin that declares
    /// more in `describe()` is refused at load, and a call that returns more than it declared
    /// fails as `state`. 1 MiB by default; 0 refuses every plugin that keeps state.
    pub max_state_bytes: StateBytes,
    /// Per-plugin overrides and grants, keyed by plugin identity (its file name, `_` read as
    /// `-`).
    pub plugin: BTreeMap<String, PluginSandbox>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            call_timeout_ms: Millis(250),
            memory_mib: MemoryMib(64),
            resident_mib: ResidentMib(16),
            max_value_bytes: Bytes(1_000_000),
            min_ttl: Ttl(1),
            max_ttl: Ttl(3600),
            max_entries: Count(250_000),
            max_output_bytes: Bytes(64 << 20),
            max_result_bytes: Bytes(640 << 10),
            quarantine_after: Count(5),
            count_instructions: false,
            max_instructions: None,
            max_state_bytes: StateBytes(1 << 20),
            plugin: BTreeMap::new(),
        }
    }
}

/// One plugin's overrides of the sandbox defaults, and what it may write.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSandbox {
    /// Its own call deadline, in milliseconds.
    pub call_timeout_ms: Option<Millis>,
    /// Its own memory cap, in MiB.
    pub memory_mib: Option<MemoryMib>,
    /// Its own instruction budget per call.
    pub max_instructions: Option<Instructions>,
    /// Its own bound on the state it keeps.
    pub max_state_bytes: Option<StateBytes>,
    /// Key prefixes it may write under (aggregators).
    pub key_prefixes: Option<Vec<String>>,
    /// Keys it may write as plain text instead of JSON.
    pub text_keys: Option<Vec<String>>,
}

/// The limits and grants that apply to one plugin, defaults and overrides resolved: every
/// bound the sandbox puts on its calls and on what it returns, in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginPolicy {
    /// Call deadline.
    pub call_timeout: Duration,
    /// Memory cap in bytes.
    pub memory_bytes: usize,
    /// Key prefixes it may write under.
    pub key_prefixes: Vec<String>,
    /// Keys it may write as plain text.
    pub text_keys: Vec<String>,
    /// Most cache entries one call may return.
    pub max_entries: usize,
    /// Most bytes of keys and values one call may return.
    pub max_output_bytes: usize,
    /// Most bytes one analyzer call may return, as the host holds them.
    pub max_result_bytes: usize,
    /// TTL of its entries that name none, in seconds (the config's `ttl`).
    pub default_ttl: u32,
    /// Shortest TTL its entries may ask for, in seconds.
    pub min_ttl: u32,
    /// Longest TTL its entries may ask for, in seconds.
    pub max_ttl: u32,
    /// Largest cache value it may write, in bytes.
    pub max_value_bytes: usize,
    /// Most instructions one call may execute; `None` for no budget.
    pub max_instructions: Option<u64>,
    /// Most bytes of state it may declare, and so keep.
    pub max_state_bytes: usize,
}

/// The bundled aggregator's grant when the config names none: the dashboard keys.
const DASHBOARD_GRANT: (&str, &[&str], &[&str]) = ("dashboard", &pulse_keys::PREFIXES, &pulse_keys::TEXT_KEYS);

impl Sandbox {
    /// Refuses an instruction budget while instructions are not counted: it could not hold.
    pub fn check_instructions(&self) -> Result<()> {
        let budgeted = self.max_instructions.is_some() || self.plugin.values().any(|p| p.max_instructions.is_some());
        if budgeted && !self.count_instructions {
            anyhow::bail!(
                "sandbox.max_instructions needs sandbox.count_instructions = true: a budget of instructions \
                 cannot hold while they are not counted"
            );
        }
        Ok(())
    }

    /// Refuses grants that let two plugins write the same key: a prefix granted to one
    /// plugin may not overlap (be a prefix of, or start with) a prefix granted to another,
    /// the bundled dashboard's default grant included.
    pub fn check_grants(&self) -> Result<()> {
        let mut names: Vec<&str> = self.plugin.keys().map(String::as_str).collect();
        if !names.contains(&DASHBOARD_GRANT.0) {
            names.push(DASHBOARD_GRANT.0);
        }
        let grants: Vec<(&str, String)> = names
            .iter()
            .flat_map(|&name| self.grant(name).0.into_iter().map(move |p| (name, p)))
            .collect();
        for (i, (a, mine)) in grants.iter().enumerate() {
            for (b, theirs) in &grants[i + 1..] {
                if a != b && (mine.starts_with(theirs.as_str()) || theirs.starts_with(mine.as_str())) {
                    anyhow::bail!(
                        "sandbox grants overlap: {mine:?} granted to plugin {a} and {theirs:?} granted to plugin {b} \
                         would let two writers share keys (the dashboard is granted \"market:\" and \"analysis:\" \
                         unless [sandbox.plugin.dashboard] says otherwise)"
                    );
                }
            }
        }
        Ok(())
    }

    /// The key prefixes and plain-text keys granted to the plugin called `name`: its own
    /// grant, else the dashboard's default one for the bundled dashboard, else none.
    fn grant(&self, name: &str) -> (Vec<String>, Vec<String>) {
        let own = self.plugin.get(name);
        let default = |keys: &[&str]| -> Vec<String> {
            if name == DASHBOARD_GRANT.0 {
                keys.iter().map(|s| s.to_string()).collect()
            } else {
                Vec::new()
            }
        };
        (
            own.and_then(|p| p.key_prefixes.clone())
                .unwrap_or_else(|| default(DASHBOARD_GRANT.1)),
            own.and_then(|p| p.text_keys.clone())
                .unwrap_or_else(|| default(DASHBOARD_GRANT.2)),
        )
    }
}

impl Config {
    /// The policy for the plugin called `name`: the sandbox's limits with its own overrides,
    /// its grants, and the entry bounds.
    pub fn policy(&self, name: &str) -> PluginPolicy {
        let sandbox = &self.sandbox;
        let own = sandbox.plugin.get(name).cloned().unwrap_or_default();
        let (key_prefixes, text_keys) = sandbox.grant(name);
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        PluginPolicy {
            call_timeout: Duration::from_millis(own.call_timeout_ms.unwrap_or(sandbox.call_timeout_ms).0),
            memory_bytes: usize::try_from(own.memory_mib.unwrap_or(sandbox.memory_mib).0 << 20).unwrap_or(usize::MAX),
            key_prefixes,
            text_keys,
            max_entries: size(sandbox.max_entries.0),
            max_output_bytes: size(sandbox.max_output_bytes.0),
            max_result_bytes: size(sandbox.max_result_bytes.0),
            default_ttl: self.ttl.0,
            min_ttl: sandbox.min_ttl.0,
            max_ttl: sandbox.max_ttl.0,
            max_value_bytes: size(sandbox.max_value_bytes.0),
            max_instructions: own.max_instructions.or(sandbox.max_instructions).map(|i| i.0),
            max_state_bytes: size(own.max_state_bytes.unwrap_or(sandbox.max_state_bytes).0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_policies_resolve_overrides_and_grants() {
        let config = Config::from_toml(
            "[sandbox]\ncall_timeout_ms = 100\n[sandbox.plugin.slow]\ncall_timeout_ms = 900\nmemory_mib = 8\n\
             [sandbox.plugin.writer]\nkey_prefixes = [\"fault:\"]\n",
        )
        .unwrap();
        let slow = config.policy("slow");
        assert_eq!(
            (slow.call_timeout, slow.memory_bytes),
            (Duration::from_millis(900), 8 << 20)
        );
        assert_eq!(config.policy("other").call_timeout, Duration::from_millis(100));
        assert_eq!(
            (slow.default_ttl, slow.min_ttl, slow.max_ttl, slow.max_value_bytes),
            (10, 1, 3600, 1_000_000),
            "the entry bounds are part of every plugin's policy"
        );
        assert_eq!(config.policy("writer").key_prefixes, ["fault:"]);
        assert!(config.policy("other").key_prefixes.is_empty());
        let dashboard = config.policy("dashboard");
        assert_eq!(dashboard.key_prefixes, ["market:", "analysis:"]);
        assert_eq!(dashboard.text_keys, ["analysis:market_regime"]);
    }

    #[test]
    fn an_instruction_budget_needs_counting_and_resolves_per_plugin() {
        let uncounted = Config::from_toml("[sandbox.plugin.slow]\nmax_instructions = 1000\n").unwrap_err();
        assert!(
            format!("{uncounted:#}").contains("sandbox.max_instructions needs sandbox.count_instructions = true"),
            "{uncounted:#}"
        );
        let config = Config::from_toml(
            "[sandbox]\ncount_instructions = true\nmax_instructions = 5000000\n[sandbox.plugin.slow]\nmax_instructions = 1000\n",
        )
        .unwrap();
        assert_eq!(config.policy("slow").max_instructions, Some(1000));
        assert_eq!(config.policy("other").max_instructions, Some(5_000_000));
        assert_eq!(Config::default().policy("other").max_instructions, None);
    }

    #[test]
    fn grants_to_two_plugins_may_not_overlap() {
        let err = format!(
            "{:#}",
            Config::from_toml("[sandbox.plugin.ticker]\nkey_prefixes = [\"market:tick\"]\n").unwrap_err()
        );
        assert!(
            err.contains("\"market:tick\" granted to plugin ticker") && err.contains("dashboard"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            Config::from_toml(
                "[sandbox.plugin.a]\nkey_prefixes = [\"x:\"]\n[sandbox.plugin.b]\nkey_prefixes = [\"x:y\"]\n"
            )
            .unwrap_err()
        );
        assert!(err.contains("plugin a") && err.contains("plugin b"), "{err}");
        Config::from_toml("[sandbox.plugin.dashboard]\nkey_prefixes = [\"market:\"]\n[sandbox.plugin.signals]\nkey_prefixes = [\"analysis:\"]\n").unwrap();
    }
}
