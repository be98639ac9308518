//! The daemon's settings: a TOML file, overridden by command-line flags.
//!
//! Every value is checked while it is parsed, so a bad file fails at start-up with its path,
//! line and reason, and a running daemon never holds an invalid setting.

mod evaluation;
mod ha;
mod rollback;
mod sandbox;
mod sections;
mod source;
mod telemetry;
mod trust;
mod values;

pub use evaluation::{EvaluationConfig, Span, MAX_HORIZONS};
pub use ha::{HaConfig, HaTls};
pub use rollback::RollbackConfig;
pub use sandbox::{PluginPolicy, PluginSandbox, Sandbox};
pub use sections::{CacheConfig, MarketConfig, SimulatedConfig};
pub use source::{ReplayEnd, SourceSpec};
pub use telemetry::{OtlpProtocol, TelemetryConfig};
pub use trust::TrustConfig;
pub use values::{
    parse_flag, Bytes, ConnectionAge, Count, DiskMib, Instructions, Interval, MemoryMib, Millis, ResidentMib, Seconds,
    Speed, StateBytes, SymbolCount, Ttl,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::shared::market::Selection;
use crate::shared::text::quoted_path;

/// The largest config file read: settings, not data (the example with every key is 5 KB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Everything `pulse run` needs to know, after the file and the flags are merged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time between cycles as configured. The cycles run at [`Config::cycle_interval`], which a
    /// replay's `market.speed` divides; only the default request timeout is half of this one,
    /// since a request or a read takes no less time in a sped-up replay.
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
    /// Most MiB of compiled plugins the compile cache keeps; the least recently used go first,
    /// so versions a swap or a rollback may bring back stay while old ones do not pile up.
    pub compile_cache_max_mib: DiskMib,
    /// Where the history and candles are saved for a warm restart; default
    /// `$XDG_CACHE_HOME/pulse/state` or `~/.cache/pulse/state`.
    pub state_dir: Option<PathBuf>,
    /// The file of the host key, which authenticates the compile cache and the saved rollbacks
    /// (created by the daemon at its first start, mode 0600); default `STATE_DIR/host.key`.
    pub host_key: Option<PathBuf>,
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
    /// Active/standby through etcd; without it, this daemon always writes.
    pub ha: Option<HaConfig>,
    /// Probation after a swap, and automatic rollback.
    pub rollback: RollbackConfig,
    /// Whether plugins must be signed, and by whose keys.
    pub trust: TrustConfig,
    /// How analyzer verdicts are scored against what the market did next.
    pub evaluation: EvaluationConfig,
    /// Traces over OTLP, off unless a collector is named.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Interval(Duration::from_secs(2)),
            ttl: Ttl(10),
            symbols: SymbolCount(30),
            source: SourceSpec::simulated(),
            market: MarketConfig::default(),
            plugin_dir: PathBuf::from("target/plugins"),
            compile_cache: None,
            compile_cache_max_mib: DiskMib(1024),
            state_dir: None,
            host_key: None,
            memcached: vec!["127.0.0.1:11211".to_string()],
            cache: CacheConfig::default(),
            simulated: SimulatedConfig::default(),
            sandbox: Sandbox::default(),
            plugin: BTreeMap::new(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9464)),
            ha: None,
            rollback: RollbackConfig::default(),
            trust: TrustConfig::default(),
            evaluation: EvaluationConfig::default(),
            telemetry: TelemetryConfig::default(),
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

impl Config {
    /// Reads a config file (a regular file of at most [`MAX_CONFIG_BYTES`]); errors name the
    /// file, and the line and column for TOML errors.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::shared::files::read_text_bounded(path, MAX_CONFIG_BYTES)
            .with_context(|| format!("cannot read config file {}", quoted_path(path)))?;
        Self::from_toml(&text).with_context(|| format!("bad config file {}", quoted_path(path)))
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
        self.sandbox.check_instructions()?;
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
        if let Some(ha) = &self.ha {
            ha.check(interval, self.write_deadline())?;
        }
        self.rollback.check(self.sandbox.quarantine_after.0)?;
        self.trust.check()?;
        self.evaluation.check()?;
        self.telemetry.check()?;
        if self.market.reconcile_every.0 < 5 {
            anyhow::bail!(
                "market.reconcile_every is {} s: at least 5 s, so REST answers stay within the exchanges' limits",
                self.market.reconcile_every.0
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
        self.compile_cache.clone().or_else(|| user_cache("compiled"))
    }

    /// The compile cache's size bound, in bytes.
    pub fn compile_cache_max_bytes(&self) -> u64 {
        self.compile_cache_max_mib.0.saturating_mul(1 << 20)
    }

    /// The directory of saved states: the configured one, else the user's cache directory.
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.state_dir.clone().or_else(|| user_cache("state"))
    }

    /// The host key's file: the configured one, else `host.key` in the state directory.
    pub fn host_key_path(&self) -> Option<PathBuf> {
        self.host_key
            .clone()
            .or_else(|| self.state_dir().map(|dir| dir.join("host.key")))
    }
}

/// `$XDG_CACHE_HOME/pulse/NAME`, else `~/.cache/pulse/NAME`.
fn user_cache(name: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("pulse").join(name))
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
        assert_eq!(config.source, SourceSpec::simulated());
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
        assert_eq!(deployed.compile_cache_max_bytes(), 1 << 30);
        let pair = Config::from_file(&examples.join("deploy/pulse-ha.toml")).unwrap();
        assert_eq!(pair.ha.as_ref().map(|ha| ha.endpoints.len()), Some(3));
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
        assert!(
            err.contains("line 2") && err.contains("must be from 1 to 3600000 ms"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            Config::from_toml("[sandbox]\ncall_timeout_ms = 9223372036854775807\n").unwrap_err()
        );
        assert!(
            err.contains("got 9223372036854775807"),
            "no deadline beyond an hour: {err}"
        );
        let err = format!("{:#}", Config::from_toml("source = \"Nas daq\"\n").unwrap_err());
        assert!(err.contains("line 1") && err.contains("NAME or NAME:ARGUMENT"), "{err}");
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
    fn ttl_settings_must_agree() {
        let err = format!("{:#}", Config::from_toml("ttl = 7200\n").unwrap_err());
        assert!(err.contains("ttl 7200 s is outside"), "{err}");
        let err = format!(
            "{:#}",
            Config::from_toml("[sandbox]\nmin_ttl = 20\nmax_ttl = 10\n").unwrap_err()
        );
        assert!(err.contains("min_ttl (20 s) is above"), "{err}");
    }
}
