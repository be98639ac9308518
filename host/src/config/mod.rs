//! The daemon's settings: a TOML file, overridden by command-line flags.
//!
//! Every value is checked while it is parsed, so a bad file fails at start-up with its path,
//! line and reason, and a running daemon never holds an invalid setting.

mod source;

pub use source::{Exchange, ReplayEnd, SourceSpec};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::shared::entry::MAX_TTL_SECS;
use crate::shared::market::Selection;

/// Everything `pulse run` needs to know, after the file and the flags are merged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time between cycles.
    pub interval: Interval,
    /// TTL for cache entries that do not name their own.
    pub ttl: Ttl,
    /// How many symbols (the top ones by 24 h turnover) each cycle analyses.
    pub symbols: SymbolCount,
    /// Where market snapshots come from.
    pub source: SourceSpec,
    /// Which symbols to analyse, how to replay or record, and how stale data may get.
    pub market: MarketConfig,
    /// The directory whose `*.wasm` files are loaded as plugins.
    pub plugin_dir: PathBuf,
    /// Where compiled plugins are kept between runs; default `$XDG_CACHE_HOME/pulse` or
    /// `~/.cache/pulse`.
    pub compile_cache: Option<PathBuf>,
    /// memcached servers; keys are spread across them by rendezvous hashing.
    pub memcached: Vec<String>,
    /// How entries are spread over the memcached servers and how long a write may take.
    pub cache: CacheConfig,
    /// Settings of the simulated market.
    pub simulated: SimulatedConfig,
    /// Limits and grants for plugins.
    pub sandbox: Sandbox,
    /// Per-plugin config tables, keyed by the plugin's identity (its file name, `_` read as
    /// `-`); handed to its `init` as JSON.
    pub plugin: BTreeMap<String, toml::Table>,
    /// Address of the status server (`/metrics`, `/healthz`, `/plugins`); loopback by default
    /// so it is not exposed unless an operator says so.
    pub listen: std::net::SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Interval(Duration::from_secs(2)),
            ttl: Ttl(10),
            symbols: SymbolCount(30),
            source: SourceSpec::Simulated,
            market: MarketConfig::default(),
            plugin_dir: PathBuf::from("target/plugins"),
            compile_cache: None,
            memcached: vec!["127.0.0.1:11211".to_string()],
            cache: CacheConfig::default(),
            simulated: SimulatedConfig::default(),
            sandbox: Sandbox::default(),
            plugin: BTreeMap::new(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// Cache write settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Write every key to every server (any replica can answer) instead of spreading keys by
    /// rendezvous hashing.
    pub mirror: bool,
    /// How long a cycle waits for its writes, in milliseconds; default half the interval.
    pub write_deadline_ms: Option<PositiveU64>,
}

/// Settings of the simulated market.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedConfig {
    /// The same seed gives the same market, cycle after cycle.
    pub seed: u64,
    /// Standard deviation of a symbol's log return per cycle (0.0015 is 0.15 %).
    pub volatility: f64,
    /// Largest steady drift of a symbol's log return per cycle; each symbol draws its own.
    pub drift: f64,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            volatility: 0.0015,
            drift: 0.0003,
        }
    }
}

/// Symbol selection, replay and recording, exchange access and staleness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// Only symbols quoted in this currency (a symbol suffix); empty for any.
    pub quote: String,
    /// If not empty, only these symbols.
    pub include: Vec<String>,
    /// Never these symbols.
    pub exclude: Vec<String>,
    /// What a replay does at the end of its file.
    pub replay_end: ReplayEnd,
    /// Replay this many times faster than the interval (cycles every `interval / speed`).
    pub speed: Speed,
    /// Record every snapshot to this JSON Lines file.
    pub record: Option<PathBuf>,
    /// Base URL of the exchange API (a mirror, or a test server).
    pub exchange_url: Option<String>,
    /// Per-request timeout of exchange polls, in milliseconds; default half the interval, at
    /// most 5 s.
    pub request_timeout_ms: Option<PositiveU64>,
    /// Age in seconds past which a snapshot is too stale to serve: market keys are no longer
    /// written and expire.
    pub max_age: PositiveU64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            quote: "USDT".to_string(),
            include: Vec::new(),
            exclude: Vec::new(),
            replay_end: ReplayEnd::Loop,
            speed: Speed(1.0),
            record: None,
            exchange_url: None,
            request_timeout_ms: None,
            max_age: PositiveU64(30),
        }
    }
}

/// A replay speed factor above 0.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Speed(pub f64);

impl TryFrom<f64> for Speed {
    type Error = String;

    fn try_from(factor: f64) -> Result<Self, String> {
        if factor.is_finite() && (0.01..=10_000.0).contains(&factor) {
            Ok(Self(factor))
        } else {
            Err(format!("speed must be between 0.01 and 10000, got {factor}"))
        }
    }
}

/// What plugins may do: limits for every call, and each plugin's overrides and key grants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sandbox {
    /// Wall-clock budget of one plugin call (instantiate, `init` and the call), in milliseconds.
    pub call_timeout_ms: PositiveU64,
    /// Largest linear memory a plugin instance may grow to, in MiB.
    pub memory_mib: PositiveU64,
    /// Largest cache value accepted, in bytes; keep it below memcached's item size (`-I`,
    /// 1 MiB by default), which also counts the key and a small header.
    pub max_value_bytes: PositiveU64,
    /// Shortest TTL an entry may ask for, in seconds.
    pub min_ttl: Ttl,
    /// Longest TTL an entry may ask for, in seconds.
    pub max_ttl: Ttl,
    /// Most cache entries one aggregator call may return.
    pub max_entries: PositiveU64,
    /// Most bytes (keys and values) one aggregator call may return.
    pub max_output_bytes: PositiveU64,
    /// Most bytes one analyzer call may return, as the host holds them (16 per verdict, 8 per
    /// component value, 24 plus its length per component name). Twenty analyzers at this bound
    /// still fit an aggregator's default memory cap.
    pub max_result_bytes: PositiveU64,
    /// Consecutive failed cycles after which a plugin is quarantined.
    pub quarantine_after: PositiveU64,
    /// Per-plugin overrides and grants, keyed by plugin identity (its file name, `_` read as
    /// `-`).
    pub plugin: BTreeMap<String, PluginSandbox>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            call_timeout_ms: PositiveU64(250),
            memory_mib: PositiveU64(64),
            max_value_bytes: PositiveU64(1_000_000),
            min_ttl: Ttl(1),
            max_ttl: Ttl(3600),
            max_entries: PositiveU64(250_000),
            max_output_bytes: PositiveU64(64 << 20),
            max_result_bytes: PositiveU64(640 << 10),
            quarantine_after: PositiveU64(5),
            plugin: BTreeMap::new(),
        }
    }
}

/// One plugin's overrides of the sandbox defaults, and what it may write.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSandbox {
    /// Its own call deadline, in milliseconds.
    pub call_timeout_ms: Option<PositiveU64>,
    /// Its own memory cap, in MiB.
    pub memory_mib: Option<PositiveU64>,
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
}

/// The bundled aggregator's grant when the config names none: the dashboard keys.
const DASHBOARD_GRANT: (&str, &[&str], &[&str]) = ("dashboard", &["market:", "analysis:"], &["analysis:market_regime"]);

impl Sandbox {
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

/// Time between cycles: more than 0 and at most an hour.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Interval(pub Duration);

impl TryFrom<f64> for Interval {
    type Error = String;

    fn try_from(seconds: f64) -> Result<Self, String> {
        if (0.01..=3600.0).contains(&seconds) {
            Ok(Self(Duration::from_secs_f64(seconds)))
        } else {
            Err(format!("interval must be between 0.01 and 3600 seconds, got {seconds}"))
        }
    }
}

/// A cache TTL in seconds: at least 1 (0 would mean "never expire", hiding a dead daemon) and
/// at most 30 days (memcached reads larger numbers as absolute Unix times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Ttl(pub u32);

impl TryFrom<i64> for Ttl {
    type Error = String;

    fn try_from(seconds: i64) -> Result<Self, String> {
        match u32::try_from(seconds) {
            Ok(s) if (1..=MAX_TTL_SECS).contains(&s) => Ok(Self(s)),
            _ => Err(format!(
                "ttl must be between 1 and {MAX_TTL_SECS} seconds, got {seconds}"
            )),
        }
    }
}

/// How many symbols a cycle analyses: 1 to 100,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct SymbolCount(pub usize);

impl TryFrom<i64> for SymbolCount {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        match usize::try_from(n) {
            Ok(n) if (1..=100_000).contains(&n) => Ok(Self(n)),
            _ => Err(format!("symbols must be between 1 and 100000, got {n}")),
        }
    }
}

/// A whole number above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct PositiveU64(pub u64);

impl TryFrom<i64> for PositiveU64 {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        match u64::try_from(n) {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(format!("must be a whole number above 0, got {n}")),
        }
    }
}

/// Re-keys per-plugin tables by identity (`_` read as `-`); two keys naming one plugin fail.
fn normalise_plugin_keys<T>(tables: BTreeMap<String, T>, section: &str) -> Result<BTreeMap<String, T>> {
    let mut out = BTreeMap::new();
    for (name, table) in tables {
        let id = crate::shared::identity::normalise_key(&name);
        if out.insert(id.clone(), table).is_some() {
            anyhow::bail!("[{section}.{name}] names plugin {id:?} again ('-' and '_' count as the same)");
        }
    }
    Ok(out)
}

/// Checks a memcached server list: at least one, each `host:port`, no duplicates.
pub fn check_servers(servers: &[String]) -> Result<()> {
    if servers.is_empty() {
        anyhow::bail!("memcached must name at least one HOST:PORT");
    }
    for (i, server) in servers.iter().enumerate() {
        let port_ok = server
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            anyhow::bail!("memcached server {server:?} is not HOST:PORT");
        }
        if servers[..i].contains(server) {
            anyhow::bail!("memcached server {server:?} is listed twice");
        }
    }
    Ok(())
}

/// Parses a command-line value with the same rules as the config file.
pub fn parse_flag<T, N>(text: &str) -> Result<T, String>
where
    T: TryFrom<N, Error = String>,
    N: std::str::FromStr,
    N::Err: fmt::Display,
{
    let n: N = text.trim().parse().map_err(|e| format!("{e}"))?;
    T::try_from(n)
}

impl Config {
    /// Reads a config file; errors name the file, and the line and column for TOML errors.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("bad config file {}", path.display()))
    }

    /// The config in `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        path.map_or_else(|| Ok(Self::default()), Self::from_file)
    }

    /// Parses config text; anything not set keeps its default. Plugin tables are keyed by
    /// identity, with `_` read as `-` as in file names.
    pub fn from_toml(text: &str) -> Result<Self> {
        let mut config: Config = toml::from_str(text)?;
        config.sandbox.plugin = normalise_plugin_keys(std::mem::take(&mut config.sandbox.plugin), "sandbox.plugin")?;
        config.plugin = normalise_plugin_keys(std::mem::take(&mut config.plugin), "plugin")?;
        config.check()?;
        Ok(config)
    }

    /// Checks the settings that depend on each other; run again after flags override the file.
    pub fn check(&self) -> Result<()> {
        check_servers(&self.memcached)?;
        self.sandbox.check_grants()?;
        let (min, max) = (self.sandbox.min_ttl.0, self.sandbox.max_ttl.0);
        if min > max {
            anyhow::bail!("sandbox.min_ttl ({min} s) is above sandbox.max_ttl ({max} s)");
        }
        if !(min..=max).contains(&self.ttl.0) {
            anyhow::bail!(
                "ttl {} s is outside sandbox.min_ttl..=sandbox.max_ttl ({min}..={max} s): every entry would be dropped",
                self.ttl.0
            );
        }
        let interval = self.cycle_interval();
        if Duration::from_secs(u64::from(self.ttl.0)) < interval {
            anyhow::bail!(
                "ttl {} s is shorter than the cycle interval ({:.1} s): every key would expire between cycles",
                self.ttl.0,
                interval.as_secs_f64()
            );
        }
        Ok(())
    }

    /// The time between cycles, sped up for a replay.
    pub fn cycle_interval(&self) -> Duration {
        self.interval.0.div_f64(self.market.speed.0)
    }

    /// Per-request timeout of exchange polls.
    pub fn request_timeout(&self) -> Duration {
        self.market
            .request_timeout_ms
            .map_or((self.interval.0 / 2).min(Duration::from_secs(5)), |ms| {
                Duration::from_millis(ms.0)
            })
    }

    /// Which symbols a cycle analyses.
    pub fn selection(&self) -> Selection {
        Selection {
            top: self.symbols.0,
            quote: self.market.quote.clone(),
            include: self.market.include.clone(),
            exclude: self.market.exclude.clone(),
        }
    }

    /// How long a cycle waits for its cache writes.
    pub fn write_deadline(&self) -> Duration {
        self.cache
            .write_deadline_ms
            .map_or(self.cycle_interval() / 2, |ms| Duration::from_millis(ms.0))
    }

    /// The compile cache directory: the configured one, else the user's cache directory.
    pub fn compile_cache_dir(&self) -> Option<PathBuf> {
        self.compile_cache.clone().or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
            Some(base.join("pulse").join("compiled"))
        })
    }

    /// The policy for the plugin called `name`: the sandbox's limits with its own overrides,
    /// its grants, and the entry bounds.
    pub fn policy(&self, name: &str) -> PluginPolicy {
        let sandbox = &self.sandbox;
        let own = sandbox.plugin.get(name).cloned().unwrap_or_default();
        let (key_prefixes, text_keys) = sandbox.grant(name);
        let size = |n: PositiveU64| usize::try_from(n.0).unwrap_or(usize::MAX);
        PluginPolicy {
            call_timeout: Duration::from_millis(own.call_timeout_ms.unwrap_or(sandbox.call_timeout_ms).0),
            memory_bytes: usize::try_from(own.memory_mib.unwrap_or(sandbox.memory_mib).0 << 20).unwrap_or(usize::MAX),
            key_prefixes,
            text_keys,
            max_entries: size(sandbox.max_entries),
            max_output_bytes: size(sandbox.max_output_bytes),
            max_result_bytes: size(sandbox.max_result_bytes),
            default_ttl: self.ttl.0,
            min_ttl: sandbox.min_ttl.0,
            max_ttl: sandbox.max_ttl.0,
            max_value_bytes: size(sandbox.max_value_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.interval.0, Duration::from_secs(2));
        assert_eq!(config.ttl.0, 10);
        assert_eq!(config.symbols.0, 30);
        assert_eq!(config.source, SourceSpec::Simulated);
        assert_eq!(config.memcached, vec!["127.0.0.1:11211"]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:9464");
    }

    #[test]
    fn the_example_configs_load() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let local = Config::from_file(&examples.join("pulse.toml")).unwrap();
        local.check().unwrap();
        let deployed = Config::from_file(&examples.join("deploy/pulse.toml")).unwrap();
        deployed.check().unwrap();
        assert_eq!(deployed.plugin_dir, Path::new("/var/lib/pulse/plugins"));
        assert_eq!(deployed.listen.to_string(), "127.0.0.1:9464");
        assert!(Config::from_toml("listen = \"localhost\"").is_err());
        let short = Config::from_toml("interval = 5\nttl = 4").unwrap_err();
        assert!(short.to_string().contains("shorter than the cycle interval"), "{short}");
    }

    #[test]
    fn unknown_keys_fail_with_line_and_name() {
        let err = format!("{:#}", Config::from_toml("ttl = 10\nintervall = 3\n").unwrap_err());
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("intervall"), "{err}");
    }

    #[test]
    fn bad_values_fail_with_line_and_reason() {
        let err = format!("{:#}", Config::from_toml("symbols = 5\n\nttl = 0\n").unwrap_err());
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("ttl must be between 1"), "{err}");
        let err = format!(
            "{:#}",
            Config::from_toml("[sandbox]\ncall_timeout_ms = -5\n").unwrap_err()
        );
        assert!(err.contains("line 2") && err.contains("above 0"), "{err}");
        let err = format!("{:#}", Config::from_toml("source = \"nasdaq\"\n").unwrap_err());
        assert!(err.contains("nasdaq") && err.contains("simulated"), "{err}");
    }

    #[test]
    fn server_lists_must_be_host_port_without_duplicates() {
        assert!(check_servers(&["127.0.0.1:11211".into(), "cache-b:11212".into()]).is_ok());
        for bad in [
            vec![],
            vec!["127.0.0.1".to_string()],
            vec!["a:1".into(), "a:1".into()],
            vec![":11211".into()],
        ] {
            assert!(check_servers(&bad).is_err(), "{bad:?}");
        }
        let err = format!("{:#}", Config::from_toml("memcached = [\"localhost\"]").unwrap_err());
        assert!(err.contains("not HOST:PORT"), "{err}");
    }

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
    fn plugin_tables_are_keyed_by_identity() {
        let config =
            Config::from_toml("[sandbox.plugin.demo_signal]\nmemory_mib = 8\n[plugin.demo_signal]\nx = 1\n").unwrap();
        assert_eq!(config.policy("demo-signal").memory_bytes, 8 << 20);
        assert_eq!(config.plugin["demo-signal"]["x"].as_integer(), Some(1));
        let err = format!(
            "{:#}",
            Config::from_toml("[plugin.a_b]\nx = 1\n[plugin.a-b]\nx = 2\n").unwrap_err()
        );
        assert!(err.contains("names plugin \"a-b\" again"), "{err}");
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

    #[test]
    fn ttl_settings_must_agree() {
        let err = format!("{:#}", Config::from_toml("ttl = 7200\n").unwrap_err());
        assert!(err.contains("ttl 7200 s is outside"), "{err}");
        let err = format!(
            "{:#}",
            Config::from_toml("[sandbox]\nmin_ttl = 20\nmax_ttl = 10\n").unwrap_err()
        );
        assert!(err.contains("min_ttl (20 s) is above"), "{err}");
    }

    #[test]
    fn flags_follow_the_file_rules() {
        assert_eq!(parse_flag::<Ttl, i64>("15"), Ok(Ttl(15)));
        assert!(parse_flag::<Ttl, i64>("0").unwrap_err().contains("ttl"));
        assert!(parse_flag::<Interval, f64>("abc").is_err());
        assert_eq!(
            parse_flag::<Interval, f64>("0.5").unwrap().0,
            Duration::from_millis(500)
        );
    }
}
