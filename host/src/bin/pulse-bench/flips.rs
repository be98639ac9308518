//! `--scenario signal-flips`: how often the bundled `trend` changes a symbol's signal, before
//! (0.2.0, a plain signal per score) and after (0.3.0, each signal held in its state until the
//! score is 5 points past the next threshold). One hour of the simulated market at 2 s (30
//! symbols, or `--symbols`), with a past of candles, is written as a recording and replayed
//! through each version beside the dashboard with `pulse replay`; each symbol's signal is read
//! from its breakdown key every cycle, and its changes are counted per symbol-hour. The scores
//! are the same in both (the state holds signals, not scores), which the run checks.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::harness::{plugin_wasm, repo_root};
use crate::Options;
use pulse::shared::candle::CandleDemand;
use pulse::shared::contract::Timeframe;
use pulse::source::SimulatedMarket;

/// Market time between snapshots, as the daemon's default interval.
const STEP_MS: i64 = 2_000;
/// The recording's first snapshot: 2026-01-01, as `pulse check`'s market.
const START_MS: i64 = 1_767_225_600_000;

pub fn run(options: &Options) -> Result<Vec<Value>> {
    let symbols = options.symbols.unwrap_or(30);
    let cycles: usize = if options.quick { 30 } else { 1_800 };
    let dir = tempfile::tempdir()?;
    let recording = dir.path().join("market.jsonl");
    record(&recording, symbols, cycles)?;
    let before = repo_root().join("tests/fixtures/contract-0.3.0/trend.wasm");
    let old = signals(dir.path(), &recording, &before, "0.2.0", symbols)?;
    let new = signals(dir.path(), &recording, &plugin_wasm("trend")?, "0.3.0", symbols)?;
    let scores_equal = old.iter().all(|(symbol, series)| {
        new.get(symbol)
            .is_some_and(|other| other.iter().map(|s| s.0).eq(series.iter().map(|s| s.0)))
    });
    if !scores_equal {
        bail!("trend 0.3.0 scored the recording differently from 0.2.0: the state must hold signals only");
    }
    let hours = (cycles - 1) as f64 * STEP_MS as f64 / 3_600_000.0;
    let rate = |series: &BTreeMap<String, Vec<(f64, String)>>| {
        let flips: usize = series
            .values()
            .map(|s| s.windows(2).filter(|w| w[0].1 != w[1].1).count())
            .sum();
        flips as f64 / (series.len() as f64 * hours)
    };
    let (before, after) = (rate(&old), rate(&new));
    eprintln!(
        "signal flips at {symbols} symbols over {hours:.2} h of market: trend 0.2.0 {before:.1} per symbol-hour, \
         0.3.0 (held, 5-point margin) {after:.1} ({:.0} % fewer); the same scores",
        (1.0 - after / before) * 100.0
    );
    Ok(vec![json!({
        "scenario": "signal-flips",
        "symbols": symbols,
        "market_hours": hours,
        "cycles": cycles,
        "flips_per_symbol_hour_0_2_0": before,
        "flips_per_symbol_hour_0_3_0": after,
        "scores_equal": scores_equal,
    })])
}

/// Writes `cycles` snapshots of the simulated market of `symbols`, 2 s apart from a fixed
/// start, the first with a past of the candles `trend` reads.
fn record(path: &Path, symbols: usize, cycles: usize) -> Result<()> {
    let mut market = SimulatedMarket::new(&pulse::config::Config::default().simulated, symbols);
    let mut demand = CandleDemand::default();
    demand.want(Timeframe::M1, trend::MINUTE_DEPTH);
    demand.want(Timeframe::H1, trend::HOUR_DEPTH);
    market.want_candles(demand);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for cycle in 0..cycles {
        let snapshot = market.snapshot(START_MS + cycle as i64 * STEP_MS);
        serde_json::to_writer(&mut out, &snapshot)?;
        out.write_all(b"\n")?;
    }
    Ok(out.flush()?)
}

/// Replays `recording` through `trend` (the build at `wasm`, describing itself as `version`)
/// and the dashboard; returns each symbol's score and signal in every cycle, as the breakdowns
/// written say them.
fn signals(
    dir: &Path,
    recording: &Path,
    wasm: &Path,
    version: &str,
    symbols: usize,
) -> Result<BTreeMap<String, Vec<(f64, String)>>> {
    let plugins = dir.join(format!("plugins-{version}"));
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(wasm, plugins.join("trend.wasm"))?;
    std::fs::copy(plugin_wasm("dashboard")?, plugins.join("dashboard.wasm"))?;
    let config = dir.join("pulse.toml");
    std::fs::write(&config, format!("symbols = {symbols}\n"))?;
    let keys = dir.join(format!("keys-{version}.jsonl"));
    let replayed = pulse_testkit::pulse(&[
        "replay",
        "--plugins",
        plugins.to_str().context("a path that is not UTF-8")?,
        "--config",
        config.to_str().context("a path that is not UTF-8")?,
        "--input",
        recording.to_str().context("a path that is not UTF-8")?,
        "--out",
        keys.to_str().context("a path that is not UTF-8")?,
    ]);
    if !replayed.status.success() {
        bail!(
            "pulse replay with trend {version} failed: {}",
            pulse_testkit::text(&replayed)
        );
    }
    let mut series: BTreeMap<String, Vec<(f64, String)>> = BTreeMap::new();
    for line in std::fs::read_to_string(&keys)?.lines() {
        let entry: Value = serde_json::from_str(line)?;
        let Some(symbol) = entry["key"]
            .as_str()
            .and_then(|k| k.strip_prefix(pulse_keys::BREAKDOWN_PREFIX))
        else {
            continue;
        };
        let trend = &entry["value"]["analyzers"]["trend"];
        if trend["version"] != version {
            bail!(
                "a breakdown of trend {} where {version} was replayed: {trend}",
                trend["version"]
            );
        }
        if let (Some(score), Some(signal)) = (trend["score"].as_f64(), trend["signal"].as_str()) {
            series
                .entry(symbol.to_string())
                .or_default()
                .push((score, signal.to_string()));
        }
    }
    Ok(series)
}
