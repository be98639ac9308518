//! The `pulse` command line: `pulse run` serves cycles, `pulse verify` checks the cache.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use tracing::{info, warn};

use crate::cache::Placement;
use crate::config::{parse_flag, Config, Interval, Seconds, Speed, SymbolCount, Ttl};
use crate::config::{HaConfig, ReplayEnd, SourceSpec};
use crate::hangup::Hangup;
use crate::shutdown::Stop;
use crate::source::Source;
use crate::startup;
use crate::status::{systemd, Limits, StatusServer};

/// Runs market-analysis WebAssembly plugins every cycle and keeps memcached fresh.
#[derive(Debug, Parser)]
#[command(name = "pulse", version)]
pub struct Cli {
    /// Log lines as human-readable text or as JSON objects (one a line) for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, with the event's fields (`plugin`, `cycle`, ...) as keys.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: load the plugins and push a cycle every interval.
    Run(Box<RunArgs>),
    /// Check a plugin file the way the daemon stages it, run it once on a simulated market,
    /// and print its output; exits non-zero with the reason if the daemon would reject it.
    Check {
        /// The plugin component (`.wasm`).
        plugin: PathBuf,
        /// Daemon config whose sandbox limits, grants, compile cache and `[plugin.NAME]` table
        /// apply (a `NAME.toml` beside the plugin wins over the table, as in the daemon).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Simulated symbols to run it on.
        #[arg(long, default_value_t = 30)]
        symbols: usize,
    },
    /// Backtest: run the plugins over a recorded market (the replay format) as fast as possible
    /// and write each cycle's cache entries as JSON Lines instead of to memcached; or, with
    /// `--compare OLD NEW`, write how NEW's results differ from OLD's, cycle by cycle.
    Replay {
        /// Plugin directory (`*.wasm`); with `--compare`, the other plugins to run beside.
        #[arg(long, required_unless_present = "compare")]
        plugins: Option<PathBuf>,
        /// Two versions of one plugin, named alike (`old/trend.wasm new/trend.wasm`): the first
        /// serves, the second runs as its shadow, as `shadow/` does in the daemon.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        compare: Option<Vec<PathBuf>>,
        /// Recorded market, JSON Lines (see docs/sources.md).
        #[arg(long)]
        input: PathBuf,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Daemon config whose settings, sandbox and plugin tables apply.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create a plugin project: `pulse new analyzer|aggregator NAME [--lang rust|js|python]`.
    New {
        /// analyzer or aggregator.
        #[arg(value_enum)]
        kind: crate::scaffold::Template,
        /// The plugin's name (a-z, 0-9, '-').
        name: String,
        /// Where to create the project's directory (a Rust crate's SDK goes beside it).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The plugin's language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::scaffold::Lang,
    },
    /// Print a page of the plugin guide (markdown): `pulse guide [plugins|rust|js|python|contract|wit]`.
    Guide {
        /// The page.
        #[arg(value_enum, default_value = "plugins")]
        topic: crate::scaffold::Topic,
    },
    /// Make the shadow version of a plugin serve: moves `DIR/shadow/NAME.wasm` (and its
    /// `NAME.toml`) over the serving files, atomically; the daemon swaps at its next cycle.
    Promote {
        /// The plugin's name.
        name: String,
        /// The daemon's plugin directory.
        #[arg(long)]
        plugins: PathBuf,
    },
    /// Read the dashboard keys back, check them, and summarise them.
    Verify {
        /// memcached servers, HOST:PORT[,HOST:PORT...], as the daemon was given them.
        #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:11211")]
        memcached: Vec<String>,
        /// The daemon runs with --mirror (every key on every server).
        #[arg(long)]
        mirror: bool,
    },
    /// Make a key pair for signing plugins: `NAME.key` (secret, mode 0600; keep it off the
    /// servers) and `NAME.pub` (for `[trust] keys`).
    Keygen {
        /// The signer's name, as `/plugins` shows it (letters, digits, '.', '_', '-', '@').
        name: String,
        /// Where to write the two files.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Sign a plugin file: writes `FILE.wasm.sig` beside it, to deploy with it.
    Sign {
        /// The plugin component (`.wasm`).
        file: PathBuf,
        /// The secret key file, from `pulse keygen`.
        #[arg(long)]
        key: PathBuf,
    },
}

/// Flags of `pulse run`; each overrides the config file.
#[derive(Debug, Args)]
struct RunArgs {
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
    cycles: Option<u64>,
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
    fn config(&self) -> Result<Config> {
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

impl Cli {
    /// Runs the chosen command to completion.
    pub async fn run(self) -> Result<()> {
        match self.command {
            Command::Run(args) => {
                let cycles = args.cycles;
                run(args.config()?, cycles).await
            }
            Command::Check {
                plugin,
                config,
                symbols,
            } => {
                let config = Config::load(config.as_deref())?;
                tokio::task::spawn_blocking(move || crate::check::run(&plugin, &config, symbols.max(1))).await?
            }
            Command::Replay {
                plugins,
                compare,
                input,
                out,
                config,
            } => {
                let config = Config::load(config.as_deref())?;
                match (compare.as_deref(), plugins) {
                    (Some([old, new]), others) => {
                        let versions = crate::replay::compare::Versions { old, new };
                        crate::replay::compare::run(config, versions, others.as_deref(), &input, out.as_deref()).await
                    }
                    (_, Some(plugins)) => crate::replay::run(config, plugins, &input, out.as_deref()).await,
                    (_, None) => anyhow::bail!("pulse replay needs --plugins DIR or --compare OLD NEW"),
                }
            }
            Command::New { kind, name, dir, lang } => {
                let created = crate::scaffold::create(kind, lang, &name, &dir)?;
                println!("created {}\n  cd {}", created.root.display(), created.root.display());
                for step in created.next_steps {
                    println!("  {step}");
                }
                Ok(())
            }
            Command::Guide { topic } => {
                print!("{}", topic.text());
                Ok(())
            }
            Command::Keygen { name, dir } => {
                let (secret, public) = crate::plugin::keygen(&name, &dir)?;
                println!(
                    "wrote {} (secret: keep it where plugins are built, never on the servers) and {} (list it in [trust] keys)",
                    secret.display(),
                    public.display()
                );
                Ok(())
            }
            Command::Sign { file, key } => {
                let (signature, signer) = crate::plugin::sign(&file, &key)?;
                println!("signed {} as {signer}: {}", file.display(), signature.display());
                Ok(())
            }
            Command::Promote { name, plugins } => {
                println!("{}", crate::promote::promote(&name, &plugins)?.summary(&name, &plugins));
                Ok(())
            }
            Command::Verify { memcached, mirror } => {
                crate::config::check_servers(&memcached)?;
                crate::verify::run(Placement::new(memcached, mirror)).await
            }
        }
    }
}

/// Loads the plugins and runs cycles until Ctrl-C, SIGTERM or `cycles` cycles.
async fn run(config: Config, cycles: Option<u64>) -> Result<()> {
    let stop = Stop::listen()?;
    let hangup = Hangup::listen()?;
    let files = crate::limits::raise_open_files();
    systemd::open_socket();
    // Opened first, so a wrong source stops start-up before any plugin is compiled.
    let source = Source::from_config(&config)?;
    let loading = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || startup::serve_plugins(&config))
    };
    let (reloader, feed) = tokio::select! {
        loaded = loading => loaded??,
        () = stop.clone().requested() => {
            info!("stopped while loading plugins");
            return Ok(());
        }
    };
    let generation = reloader.current();
    info!(
        analyzers = generation.analyzers.len(),
        aggregators = generation.aggregators.len(),
        dir = %crate::shared::text::quoted_path(&config.plugin_dir),
        "plugins loaded; watching the directory for changes"
    );
    if generation.aggregators.is_empty() {
        warn!("no aggregator loaded: cycles write only pulse:status until one is added");
    }
    for name in config.plugin.keys().filter(|name| generation.get(name).is_none()) {
        warn!("config has a [plugin.{name}] table but no loaded plugin is named {name}");
    }
    let status_server = StatusServer::bind(config.listen).await?;
    let watch = std::sync::Arc::new(reloader.watch()?);
    hangup.reconcile_on_each(watch.clone());
    let (leadership, campaign) = startup::leadership(&config, &generation)?;
    let pipeline = startup::pipeline(&config, source, feed, startup::memcached(&config).await?)
        .warm_start(config.state_dir())
        .with_leadership(leadership);
    info!(
        source = %config.source,
        memcached = %config.memcached.join(","),
        interval_s = config.cycle_interval().as_secs_f64(),
        ttl_s = config.ttl.0,
        symbols = config.symbols.0,
        "pulse running; check the cache with `pulse verify --memcached {}`",
        config.memcached.join(",")
    );
    info!(
        "status server on http://{}: /metrics, /healthz, /plugins",
        status_server.local_addr()?
    );
    status_server.spawn(
        pipeline.telemetry(),
        Limits {
            max_connections: files.status_connections(),
        },
    );
    systemd::ready(pipeline.telemetry());
    let result = pipeline.run(cycles, stop.requested()).await;
    if let Some(campaign) = campaign {
        // After the last write: the standby takes over at once instead of after the lease.
        campaign.resign(config.cycle_interval()).await;
    }
    systemd::stopping();
    result
}
