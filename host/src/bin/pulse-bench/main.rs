//! `pulse-bench`: measures Pulse with the real plugin components and a real memcached (its own,
//! on a free loopback port, unless `--memcached` names one). Each scenario run prints one JSON
//! object on stdout, with units in the field names and the machine it ran on; human-readable
//! text goes to stderr. See BENCHMARKS.md.

mod alternative;
mod breakdown;
mod cache_write;
mod cold_start;
mod cycle;
mod evaluation;
mod failover;
mod faults;
mod first_whole;
mod flips;
mod harness;
mod loopback_bybit;
mod many;
mod native;
mod streaming;
mod swap;
mod traces;
mod warm_state;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use serde_json::Value;

/// Benchmarks for Pulse.
#[derive(Debug, Parser)]
#[command(name = "pulse-bench")]
struct Cli {
    /// The scenario to run; every scenario when none is named.
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,
    /// Symbol count for `cycle` and `wasm-vs-native` (default: each scenario's standard set).
    #[arg(long)]
    symbols: Option<usize>,
    /// memcached to use (HOST:PORT); default: one started for the run.
    #[arg(long)]
    memcached: Option<String>,
    /// Tiny sizes and few repetitions: checks that every scenario still runs, measures nothing.
    #[arg(long)]
    quick: bool,
    /// `cycle` at `--symbols`: the dashboard writes a breakdown key for every symbol, not only
    /// for its default 10,000.
    #[arg(long)]
    every_breakdown: bool,
    /// Run the in-process scenarios with `[sandbox] count_instructions = true` (the daemon's
    /// default is off), to measure what counting costs.
    #[arg(long)]
    count_instructions: bool,
    /// `traces`: run one variant in this process, at `--symbols`, exporting to `--trace-to`
    /// (none: traces off); the scenario starts one process per variant with it.
    #[arg(long, hide = true)]
    trace_variant: bool,
    /// The variant's OTLP endpoint.
    #[arg(long, hide = true)]
    trace_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// The full cycle at N symbols: p50/p99/max, keys and bytes per cycle, peak RSS.
    Cycle,
    /// The trend analyzer natively and as a component on the same input: the whole call, and
    /// the analysis alone.
    WasmVsNative,
    /// 20 analyzers and 2 aggregators at 1,000 symbols: the cycle, and a call's fixed cost.
    ManyPlugins,
    /// The same work in one straightforward Python process, beside Pulse's cycle.
    Alternative,
    /// 10,000 keys through Pulse's writer beside a raw `set … noreply` burst.
    CacheWrite,
    /// Rename to first cycle served by the new version, and staging alone.
    Swap,
    /// Process start to first push, with an empty and a warm compile cache.
    ColdStart,
    /// Every fault fixture beside the bundled plugins for a minute: peak RSS and log size.
    Faults,
    /// Start to the first push with whole analyses for every symbol, from a loopback exchange
    /// with candles: a cold start (backfill) and a warm restart (saved state).
    FirstWhole,
    /// An active/standby pair on a real etcd: signal to the standby's first push as leader,
    /// on SIGKILL and on SIGTERM, p50 and max over repeated rounds.
    Failover,
    /// Scoring verdicts at 30 and 10,000 symbols, a serving version and its shadow, the default
    /// horizons: each cycle's step after the write, and the memory held once full.
    Evaluation,
    /// The bundled trend's signal changes per symbol-hour on a recorded hour, 0.2.0 (plain)
    /// beside 0.3.0 (signals held in its state).
    SignalFlips,
    /// A daemon streaming from a loopback Bybit and Binance at 30, 1,000 and 10,000 symbols
    /// (or `--symbols`) at their real push rates: each symbol's data age at the snapshot, and
    /// the daemon's CPU.
    Streaming,
    /// The full cycle at 30 and 1,000 symbols (or `--symbols`) with traces off, exported to a
    /// loopback OTLP receiver, and sent to a collector that never answers: what traces cost.
    Traces,
    /// A daemon on a loopback Bybit at 1,000 and 10,000 symbols (or `--symbols`), past its first
    /// periodic save, stopped and started again on it: the state file's size, each save's cost,
    /// the cycles around the save, and the restart.
    WarmState,
}

/// Options every scenario sees.
pub struct Options {
    /// `--symbols`, if given.
    pub symbols: Option<usize>,
    /// The memcached to use.
    pub memcached: String,
    /// `--quick`.
    pub quick: bool,
    /// `--every-breakdown`.
    pub every_breakdown: bool,
    /// Whether plugin calls count their instructions (`--count-instructions`).
    pub count_instructions: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The cycles' steps are timed by their spans; a `traces` variant brings its own subscriber.
    if !cli.trace_variant {
        breakdown::install()?;
    }
    // The key of the benchmark's compile cache, made now, so in-process scenarios share the
    // cache from the first run as the daemons they start do, whatever order they run in.
    pulse::plugin::HostKey::open_or_create(&pulse_testkit::Caches::Bench.host_key())?;
    let own = match &cli.memcached {
        Some(_) => None,
        None => Some(harness::memcached()?),
    };
    let options = Options {
        symbols: cli.symbols,
        memcached: cli
            .memcached
            .clone()
            .unwrap_or_else(|| own.as_ref().unwrap().addr.clone()),
        quick: cli.quick,
        every_breakdown: cli.every_breakdown,
        count_instructions: cli.count_instructions,
    };
    let scenarios = match cli.scenario {
        Some(s) => vec![s],
        None => Scenario::value_variants().to_vec(),
    };
    let machine = harness::machine();
    for scenario in scenarios {
        let results: Vec<Value> = match scenario {
            Scenario::Cycle => cycle::run(&options)?,
            Scenario::WasmVsNative => native::run(&options)?,
            Scenario::ManyPlugins => many::run(&options)?,
            Scenario::Alternative => alternative::run(&options)?,
            Scenario::CacheWrite => cache_write::run(&options)?,
            Scenario::Swap => swap::run(&options)?,
            Scenario::ColdStart => cold_start::run(&options)?,
            Scenario::Faults => faults::run(&options)?,
            Scenario::FirstWhole => first_whole::run(&options)?,
            Scenario::Failover => failover::run(&options)?,
            Scenario::Evaluation => evaluation::run(&options)?,
            Scenario::SignalFlips => flips::run(&options)?,
            Scenario::Streaming => streaming::run(&options)?,
            Scenario::WarmState => warm_state::run(&options)?,
            Scenario::Traces => match (cli.trace_variant, cli.symbols) {
                (true, Some(symbols)) => vec![traces::measure(&options, symbols, cli.trace_to.as_deref())?],
                _ => traces::run(&options)?,
            },
        };
        for mut result in results {
            result["machine"] = machine.clone();
            result["count_instructions"] = serde_json::json!(options.count_instructions);
            println!("{result}");
        }
    }
    Ok(())
}
