//! The flags of `pulse run`, each over the config file's setting of the same name, and the one
//! checked config they make.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::{parse_flag, Config, HaConfig, Interval, ReplayEnd, Seconds, SourceSpec, Speed, SymbolCount, Ttl};

/// Flags of `pulse run`; each overrides the config file.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// TOML config file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Plugin directory (`*.wasm`).
    #[arg(long = "plugins")]
    plugin_dir: Option<PathBuf>,
    /// memcached servers, HOST:PORT[,HOST:PORT...].
    #[arg(long, value_delimiter = ',')]
    memcached: Option<Vec<String>>,
    /// Write every key to every memcached server instead of spreading keys across them.
    #[arg(long)]
    mirror: bool,
    /// Seconds between cycles (default 2).
    #[arg(long, value_parser = parse_flag::<Interval, f64>)]
    interval: Option<Interval>,
    /// Default TTL of cache entries, in seconds (default 10).
    #[arg(long, value_parser = parse_flag::<Ttl, i64>)]
    ttl: Option<Ttl>,
    /// Analyse the top N symbols by 24 h turnover (default 30).
    #[arg(long, value_parser = parse_flag::<SymbolCount, i64>)]
    symbols: Option<SymbolCount>,
    /// Market source (default simulated); the list is built from the sources' registry.
    #[arg(long, help = format!("Market source: {} (default simulated)", crate::source::usages()))]
    source: Option<SourceSpec>,
    /// What a replay does at the end of its file: loop (default) or stop.
    #[arg(long, value_enum)]
    replay_end: Option<ReplayEnd>,
    /// Replay this many times faster than the interval.
    #[arg(long, value_parser = parse_flag::<Speed, f64>)]
    speed: Option<Speed>,
    /// Record every snapshot to this JSON Lines file (replayable with replay:FILE).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Base URL of the exchange API, for a mirror or a test server.
    #[arg(long)]
    exchange_url: Option<String>,
    /// Base URL of the exchange's WebSocket streams, for a mirror or a test server.
    #[arg(long)]
    exchange_ws_url: Option<String>,
    /// Stream an exchange over WebSocket (true, the default) or poll its REST API each cycle
    /// (false).
    #[arg(long)]
    stream: Option<bool>,
    /// Only these symbols, SYMBOL[,SYMBOL...].
    #[arg(long, value_delimiter = ',')]
    include: Option<Vec<String>>,
    /// Never these symbols, SYMBOL[,SYMBOL...].
    #[arg(long, value_delimiter = ',')]
    exclude: Option<Vec<String>>,
    /// Seconds a snapshot may age (while the source fails) before market keys stop (default 30).
    #[arg(long, value_parser = parse_flag::<Seconds, i64>)]
    max_age: Option<Seconds>,
    /// Directory for compiled plugins (default ~/.cache/pulse/compiled).
    #[arg(long)]
    compile_cache: Option<PathBuf>,
    /// Directory where history and candles are saved for a warm restart (default
    /// ~/.cache/pulse/state).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The host key's file, which authenticates the compile cache and saved rollbacks (default
    /// STATE_DIR/host.key; created at the first start).
    #[arg(long)]
    host_key: Option<PathBuf>,
    /// Stop after this many cycles (default: run until Ctrl-C).
    #[arg(long)]
    pub(super) cycles: Option<u64>,
    /// Address of the status server: /metrics, /healthz, /plugins (default 127.0.0.1:9464;
    /// port 0 picks a free one and logs it).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Run as one of an active/standby pair: etcd's client URLs, URL[,URL...] (sets `[ha]`).
    #[arg(long, value_delimiter = ',')]
    ha_endpoints: Option<Vec<String>>,
    /// This daemon's id in the election (default HOSTNAME-PID).
    #[arg(long)]
    ha_id: Option<String>,
    /// The election's name, one per deployment (default "pulse").
    #[arg(long)]
    ha_election: Option<String>,
    /// Seconds the leader's lease lasts without renewal (default three intervals).
    #[arg(long, value_parser = parse_flag::<Seconds, i64>)]
    ha_lease_ttl: Option<Seconds>,
}

impl RunArgs {
    /// The config file, the flags over it, checked.
    pub(super) fn config(&self) -> Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(v) = &self.plugin_dir {
            config.plugin_dir.clone_from(v);
        }
        if let Some(v) = &self.compile_cache {
            config.compile_cache = Some(v.clone());
        }
        if let Some(v) = &self.state_dir {
            config.state_dir = Some(v.clone());
        }
        if let Some(v) = &self.host_key {
            config.host_key = Some(v.clone());
        }
        if let Some(v) = &self.memcached {
            config.memcached.clone_from(v);
        }
        if self.mirror {
            config.cache.mirror = true;
        }
        if let Some(v) = self.interval {
            config.interval = v;
        }
        if let Some(v) = self.ttl {
            config.ttl = v;
        }
        if let Some(v) = self.symbols {
            config.symbols = v;
        }
        if let Some(v) = &self.source {
            config.source = v.clone();
        }
        let market = &mut config.market;
        if let Some(v) = self.replay_end {
            market.replay_end = v;
        }
        if let Some(v) = self.speed {
            market.speed = v;
        }
        if let Some(v) = &self.record {
            market.record = Some(v.clone());
        }
        if let Some(v) = &self.exchange_url {
            market.exchange_url = Some(v.clone());
        }
        if let Some(v) = &self.exchange_ws_url {
            market.exchange_ws_url = Some(v.clone());
        }
        if let Some(v) = self.stream {
            market.stream = v;
        }
        if let Some(v) = &self.include {
            market.include.clone_from(v);
        }
        if let Some(v) = &self.exclude {
            market.exclude.clone_from(v);
        }
        if let Some(v) = self.max_age {
            market.max_age = v;
        }
        if let Some(v) = self.listen {
            config.listen = v;
        }
        self.override_ha(&mut config)?;
        config.check()?;
        Ok(config)
    }
}

impl RunArgs {
    /// Applies the `--ha-*` flags: `--ha-endpoints` makes an `[ha]` table if the file has none.
    fn override_ha(&self, config: &mut Config) -> Result<()> {
        if let Some(endpoints) = &self.ha_endpoints {
            match &mut config.ha {
                Some(ha) => ha.endpoints.clone_from(endpoints),
                None => config.ha = Some(HaConfig::with_endpoints(endpoints.clone())),
            }
        }
        let flagged = self.ha_id.is_some() || self.ha_election.is_some() || self.ha_lease_ttl.is_some();
        let Some(ha) = config.ha.as_mut() else {
            if flagged {
                anyhow::bail!("--ha-id, --ha-election and --ha-lease-ttl need --ha-endpoints or an [ha] table");
            }
            return Ok(());
        };
        if let Some(v) = &self.ha_id {
            ha.id = Some(v.clone());
        }
        if let Some(v) = &self.ha_election {
            ha.election.clone_from(v);
        }
        if let Some(v) = self.ha_lease_ttl {
            ha.lease_ttl_s = Some(v);
        }
        Ok(())
    }
}
