//! `pulse check PLUGIN.wasm`: tells a plugin author whether the daemon will take a file, and
//! why not, without a daemon or memcached. It stages the plugin exactly as the daemon does
//! (the same stager: world, imports, `describe`, `init` with the same config, the `NAME.toml`
//! beside the file included), runs it once on a simulated market with as much history
//! as it asks for, applies the daemon's output checks, and prints what came out.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::candles::CandleStore;
use crate::config::Config;
use crate::history::History;
use crate::plugin::{CallError, LoadedPlugin, PluginKind, PluginSource, Stated};
use crate::shared::candle::CandleDemand;
use crate::shared::columns::{Columns, ColumnsWanted};
use crate::shared::contract::signal_name;
use crate::shared::contract::{Analyses, CacheEntry, PluginInfo};
use crate::shared::entry::validate;
use crate::shared::market_view::PluginMarket;
use crate::shared::needs::Needs;
use crate::shared::timeframe::{self, TIMEFRAMES};
use crate::source::SimulatedMarket;
use crate::startup;

/// Checks `path` under `config`'s sandbox with `symbols` simulated symbols; prints a report
/// and fails with the reason if the daemon would reject the plugin or its output.
pub fn run(path: &Path, config: &Config, symbols: usize) -> Result<()> {
    // An author's check always counts instructions, whatever the daemon's setting.
    let config = &Config {
        sandbox: crate::config::Sandbox {
            count_instructions: true,
            ..config.sandbox.clone()
        },
        ..config.clone()
    };
    let mut out = String::new();
    let source = PluginSource::read(path).map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
    let _ = writeln!(
        out,
        "file      {} ({} KB, sha256 {})",
        path.display(),
        source.bytes.len().div_ceil(1024),
        &source.fingerprint.hash[..12]
    );
    let stager = startup::stager(config)?;
    let started = Instant::now();
    let plugin = match stager.stage(&source, None) {
        Ok((plugin, _)) => plugin,
        Err(e) => {
            print!("{out}");
            bail!("the daemon would reject {}: {e}", path.display());
        }
    };
    report_staged(&mut out, &plugin, started.elapsed());
    let depth = plugin.info.history_depth as usize;
    let market = simulated_market(config, symbols, plugin.needs());
    let failures = exercise(&plugin, &market, depth, &mut out);
    if failures.is_empty() && plugin.counts_instructions() {
        report_cost(config, &source, &mut out);
    }
    print!("{out}");
    if failures.is_empty() {
        println!("OK: the daemon will load {} and use its output", path.display());
        Ok(())
    } else {
        for f in &failures {
            println!("FAIL: {f}");
        }
        bail!("{} failed its check: {}", path.display(), failures[0])
    }
}

/// `; candles 1m×60 (close), 1h×30`, or nothing for a plugin that asks for none.
fn candles_wanted(info: &PluginInfo) -> String {
    let wanted: Vec<String> = info
        .candles
        .iter()
        .map(|r| {
            let columns = Columns(r.columns);
            let which = match columns == Columns::all() {
                true => String::new(),
                false => format!(" ({})", columns.names().join(", ")),
            };
            format!("{}×{}{which}", timeframe::label(r.timeframe), r.depth)
        })
        .collect();
    if wanted.is_empty() {
        String::new()
    } else {
        format!("; candles {}", wanted.join(", "))
    }
}

/// What staging found: the world, what `describe()` said, the config `init` took, the limits.
fn report_staged(out: &mut String, plugin: &LoadedPlugin, staged_in: Duration) {
    let info = &plugin.info;
    let _ = writeln!(
        out,
        "world     {} ({}), staged in {:.1} ms",
        plugin.kind.label(),
        plugin.kind.contract(),
        ms(staged_in)
    );
    let _ = writeln!(
        out,
        "describe  {} {}: {}; history depth {}{}{}",
        info.name,
        info.version,
        info.description,
        info.history_depth,
        candles_wanted(info),
        if info.key_prefixes.is_empty() {
            String::new()
        } else {
            format!("; writes {:?}", info.key_prefixes)
        }
    );
    if let Some(signer) = &plugin.signer {
        let _ = writeln!(out, "signed    by {signer}, whose key [trust] lists");
    }
    let _ = writeln!(out, "init      ok with config {}", plugin.config_json());
    let _ = writeln!(
        out,
        "limits    deadline {} ms, memory {} MiB{}",
        plugin.policy.call_timeout.as_millis(),
        plugin.policy.memory_bytes >> 20,
        plugin
            .policy
            .max_instructions
            .map_or_else(String::new, |n| format!(", {n} instructions a call"))
    );
}

/// When `pulse check`'s simulated market starts: 2026-01-01 00:00 UTC.
const SIMULATED_START_MS: i64 = 1_767_225_600_000;

/// The market sizes `pulse check` counts a call's instructions at.
const COST_SIZES: [usize; 3] = [30, 1_000, 10_000];

/// The longest a cost call may take: the count, not the clock, is what is measured, so a slow
/// machine must not cut off a call a fast one finishes.
const COST_DEADLINE_MS: u64 = 60_000;

/// The instructions one call executes at each of [`COST_SIZES`] simulated symbols: the same
/// from run to run with the same build and config, so two versions compare exactly. The calls
/// run under the plugin's limits but a deadline of [`COST_DEADLINE_MS`].
fn report_cost(config: &Config, source: &PluginSource, out: &mut String) {
    let mut unhurried = config.clone();
    unhurried.sandbox.call_timeout_ms = crate::config::Millis(COST_DEADLINE_MS);
    for own in unhurried.sandbox.plugin.values_mut() {
        own.call_timeout_ms = None;
    }
    let plugin =
        match startup::stager(&unhurried).and_then(|s| s.stage(source, None).map_err(|e| anyhow::anyhow!("{e}"))) {
            Ok((plugin, _)) => plugin,
            Err(e) => {
                let _ = writeln!(out, "cost      not measured: {e:#}");
                return;
            }
        };
    let counted: Vec<String> = COST_SIZES
        .iter()
        .map(|&n| {
            let market = simulated_market(config, n, plugin.needs());
            let view = market.view();
            let called = match plugin.kind {
                PluginKind::Analyzer(_) => plugin.analyze(&view, &[]).map(drop),
                PluginKind::Aggregator(_) => plugin.aggregate(&view, &[], &[]).map(drop),
            };
            match (called, crate::plugin::take_instructions()) {
                (Ok(()), Some(count)) => format!("{n} symbols {count}"),
                (Err(e), _) => format!("{n} symbols failed ({})", e.failure.label()),
                (Ok(()), None) => format!("{n} symbols not counted"),
            }
        })
        .collect();
    let _ = writeln!(out, "cost      instructions per call: {}", counted.join(", "));
}

/// A simulated market of `symbols` symbols (the config's `[simulated]` settings) as a plugin
/// with `needs` gets it from the daemon: its history depth in samples, one every 2 s, and its
/// candles with their simulated past.
pub fn simulated_market(config: &Config, symbols: usize, needs: &Needs) -> PluginMarket {
    let depth = needs.history_depth as usize;
    let mut demand = CandleDemand::default();
    let mut columns = ColumnsWanted::default();
    for need in &needs.candles {
        demand.want(TIMEFRAMES[need.timeframe], need.depth);
        columns[need.timeframe] = need.columns;
    }
    let mut market = SimulatedMarket::new(&config.simulated, symbols);
    market.want_candles(demand);
    let (mut history, mut candles) = (History::default(), CandleStore::default());
    history.set_capacity(depth);
    candles.set_demand(demand);
    candles.set_columns(columns);
    // A fixed time, not the clock: the same check gives the same market, candles included,
    // so its instruction counts are the same from run to run.
    let mut snapshot = market.snapshot(SIMULATED_START_MS);
    for _ in 1..depth.max(1) {
        history.record(&snapshot);
        candles.record(&snapshot);
        snapshot = market.snapshot(snapshot.timestamp_ms + 2000);
    }
    history.record(&snapshot);
    candles.record(&snapshot);
    let base = snapshot.to_market(depth.max(1) as u64, "simulated", Duration::ZERO);
    let holds = Needs::held(depth as u32, demand, &columns);
    needs.cut(&candles.market(history.market(&base, depth)), &holds)
}

/// Calls the plugin once on `market` from empty state and applies the daemon's output checks,
/// reporting into `out`; a plugin that keeps state is called a second time from the state the
/// first call returned. Returns what the daemon would refuse.
fn exercise(plugin: &LoadedPlugin, market: &PluginMarket, depth: usize, out: &mut String) -> Vec<String> {
    let market = market.view();
    let started = Instant::now();
    let symbols = market.len();
    let mut failures = Vec::new();
    match plugin.kind {
        PluginKind::Analyzer(_) => match plugin.analyze(&market, &[]) {
            Ok(Stated {
                result: (analyses, dropped),
                state,
            }) => {
                report_call(out, "analyze", started, plugin, symbols, depth);
                report_state(
                    out,
                    plugin,
                    state,
                    |state| plugin.analyze(&market, state).map(|s| s.state),
                    &mut failures,
                );
                report_analyses(out, market.symbols, &analyses);
                if dropped > 0 {
                    failures.push(format!(
                        "{dropped} verdicts with a score that is not a finite number in 0..100"
                    ));
                }
            }
            Err(e) => failures.push(format!("analyze failed: {e:#}")),
        },
        PluginKind::Aggregator(_) => match plugin.aggregate(&market, &[], &[]) {
            Ok(Stated { result: entries, state }) => {
                report_call(out, "aggregate", started, plugin, symbols, depth);
                report_state(
                    out,
                    plugin,
                    state,
                    |state| plugin.aggregate(&market, &[], state).map(|s| s.state),
                    &mut failures,
                );
                failures.extend(report_entries(out, plugin, entries));
            }
            Err(e) => failures.push(format!("aggregate failed: {e:#}")),
        },
    }
    failures
}

/// Checks an aggregator's entries as the daemon would, one line each; returns the drops.
fn report_entries(out: &mut String, plugin: &LoadedPlugin, entries: Vec<CacheEntry>) -> Vec<String> {
    let rules = plugin.entry_rules();
    let mut dropped = Vec::new();
    let _ = writeln!(out, "output    {} cache entries (no analyzers ran)", entries.len());
    let _ = writeln!(out, "  {:<40} {:>6} {:>9}  check", "key", "ttl s", "bytes");
    for entry in entries {
        let key = entry.key.clone();
        match validate(entry, &rules) {
            Ok(valid) => {
                let _ = writeln!(out, "  {:<40} {:>6} {:>9}  ok", key, valid.ttl, valid.value.len());
            }
            Err(e) => {
                let _ = writeln!(out, "  {key:<40} {:>6} {:>9}  DROPPED: {e:#}", "-", "-");
                dropped.push(format!("entry dropped: {e:#}"));
            }
        }
    }
    dropped
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report_call(out: &mut String, what: &str, started: Instant, plugin: &LoadedPlugin, symbols: usize, depth: usize) {
    let _ = writeln!(
        out,
        "call      {what} on {symbols} simulated symbols with {depth} samples of history{}: {:.2} ms, {}peak memory {:.1} MiB",
        candles_wanted(&plugin.info),
        ms(started.elapsed()),
        crate::plugin::take_instructions().map_or_else(String::new, |n| format!("{n} instructions, ")),
        plugin.last_peak_memory() as f64 / 1048576.0
    );
}

/// For a plugin that keeps state: the state its first call returned, and what a second call
/// from it returns (`again`), so a state that cannot be read back shows here rather than in
/// the daemon's second cycle.
fn report_state(
    out: &mut String,
    plugin: &LoadedPlugin,
    first: Vec<u8>,
    again: impl FnOnce(&[u8]) -> Result<Vec<u8>, CallError>,
    failures: &mut Vec<String>,
) {
    let info = &plugin.info;
    if info.max_state_bytes == 0 {
        return;
    }
    let format = match info.state_format.as_str() {
        "" => "no format named: a new version always starts empty".to_string(),
        format => format!("format {format}"),
    };
    let second = again(&first);
    crate::plugin::take_instructions();
    let then = match &second {
        Ok(state) => format!("{} bytes after a second call from it", state.len()),
        Err(e) => {
            failures.push(format!(
                "a second call, from the state the first returned, failed: {e:#}"
            ));
            "a second call from it failed".to_string()
        }
    };
    let _ = writeln!(
        out,
        "state     {} bytes after the first call, {then} (declared at most {}, {format})",
        first.len(),
        info.max_state_bytes
    );
}

fn report_analyses(out: &mut String, symbols: &[String], analyses: &Analyses) {
    let scored = analyses.verdicts.iter().flatten().count();
    let _ = writeln!(out, "output    {scored} of {} symbols scored", symbols.len());
    let _ = writeln!(out, "  {:<14} {:>6}  {:<11}  components", "symbol", "score", "signal");
    let k = analyses.component_names.len();
    for (i, symbol) in symbols.iter().enumerate().take(10) {
        let (score, signal) = match analyses.verdicts[i] {
            Some(v) => (format!("{:.1}", v.score), signal_name(v.signal)),
            None => ("-".into(), "no opinion"),
        };
        let components: Vec<String> = analyses
            .component_names
            .iter()
            .zip(&analyses.components[i * k..(i + 1) * k])
            .map(|(n, v)| format!("{n}={v:.4}"))
            .collect();
        let _ = writeln!(out, "  {symbol:<14} {score:>6}  {signal:<11}  {}", components.join(" "));
    }
    if symbols.len() > 10 {
        let _ = writeln!(out, "  ... {} more", symbols.len() - 10);
    }
}
