//! The `pulse` command line: `pulse run` serves cycles, `pulse verify` checks the cache.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use run_args::RunArgs;
use tracing::{info, warn};

use crate::cache::Placement;
use crate::config::Config;
use crate::hangup::Hangup;
use crate::shutdown::Stop;
use crate::source::Source;
use crate::startup;
use crate::status::{systemd, Limits, StatusServer};

/// Runs market-analysis WebAssembly plugins every cycle and keeps memcached fresh.
#[derive(Debug, Parser)]
#[command(name = "pulse", version, long_version = long_version())]
pub struct Cli {
    /// Log lines as human-readable text or as JSON objects (one a line) for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `pulse --version`: what a bug report or a package check needs to name the build: its
/// version, the commit it was built from, the contract versions it loads and its wasmtime.
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let contracts: Vec<&str> = crate::plugin::contract_versions().collect();
        format!(
            "{} (commit {})\ncontracts: {}\nwasmtime {}",
            env!("CARGO_PKG_VERSION"),
            env!("PULSE_COMMIT"),
            contracts.join(", "),
            env!("PULSE_WASMTIME_VERSION")
        )
    })
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
        /// Score the analyzers' verdicts against what the recorded market did next
        /// (`[evaluation]` says at which horizons): a table on stderr and, without `--compare`,
        /// JSON on stdout (the entries then go to `--out` only); with `--compare`, both
        /// versions side by side on the same samples.
        #[arg(long)]
        evaluate: bool,
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
        /// `--if-better` and what it asks of the evidence.
        #[command(flatten)]
        gate: crate::promote::evidence::GateArgs,
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

impl Cli {
    /// The checked config `pulse run` runs with (its file and its flags), read ahead of the run
    /// so that logging can be set up with the trace export it asks for; `None` for the other
    /// commands, which export no traces.
    pub fn run_config(&self) -> Option<Result<Config>> {
        match &self.command {
            Command::Run(args) => Some(args.config()),
            _ => None,
        }
    }

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
                evaluate,
            } => {
                let config = Config::load(config.as_deref())?;
                match (compare.as_deref(), plugins) {
                    (Some([old, new]), others) => {
                        let versions = crate::replay::compare::Versions { old, new, evaluate };
                        crate::replay::compare::run(config, versions, others.as_deref(), &input, out.as_deref()).await
                    }
                    (_, Some(plugins)) => crate::replay::run(config, plugins, &input, out.as_deref(), evaluate).await,
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
            Command::Promote { name, plugins, gate } => crate::promote::run(&name, &plugins, gate.gate()).await,
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
    let (pipeline, campaign) = startup::daemon_pipeline(&config, source, feed, &generation).await?;
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
    pipeline.run(cycles, stop.requested()).await;
    if let Some(campaign) = campaign {
        // After the last write: the standby takes over at once instead of after the lease.
        campaign.resign(config.cycle_interval()).await;
    }
    systemd::stopping();
    Ok(())
}

mod run_args;
