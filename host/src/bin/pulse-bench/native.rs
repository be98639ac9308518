//! The bundled `trend` analyzer's own code, run natively and as its wasm component on the same
//! market. The whole wasm call is as the daemon makes it: a fresh instance, `init`, the market
//! lowered in, the result lifted out. The analysis alone in wasm is told apart by the
//! `bench-analyzer` fixture, which compiles `trend`'s analysis and runs it `repeat` times per
//! call: its call time at `repeat = R` less its time at `repeat = 1`, over `R - 1`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use pulse::config::{Bytes, Config, MemoryMib, Millis, ResidentMib};
use pulse::plugin::{LoadedPlugin, PluginSource};
use pulse::shared::market_view::CallMarket;
use pulse_sdk::StatefulAnalyzer;
use serde_json::{json, Value};

use crate::harness::{bench_analyzers, percentiles, plugin_wasm};
use crate::Options;
use pulse_testkit::Caches;

/// Runs at `--symbols`, or at 30 and 10,000.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let sizes = match options.symbols {
        Some(n) => vec![n],
        None if options.quick => vec![30],
        None => vec![30, 10_000],
    };
    sizes.into_iter().map(|n| measure(options, n)).collect()
}

/// Calls per figure at `symbols`.
fn reps(options: &Options, symbols: usize) -> usize {
    match (options.quick, symbols) {
        (true, _) => 3,
        (false, n) if n <= 1_000 => 500,
        _ => 30,
    }
}

/// A config whose limits let one call analyse a large market, with `[plugin.NAME]` tables,
/// counting instructions as `options` says.
pub fn raised(options: &Options, tables: &str) -> Result<Config> {
    let mut config = Config::from_toml(tables)?;
    config.sandbox.count_instructions = options.count_instructions;
    config.compile_cache = Some(Caches::Bench.compile_cache());
    config.host_key = Some(Caches::Bench.host_key());
    config.sandbox.call_timeout_ms = Millis(60_000);
    config.sandbox.memory_mib = MemoryMib(1024);
    config.sandbox.resident_mib = ResidentMib(1024);
    config.sandbox.max_result_bytes = Bytes(1 << 30);
    Ok(config)
}

/// The plugin file at `path` staged under `config`.
pub fn stage(config: &Config, path: &Path) -> Result<Arc<LoadedPlugin>> {
    let (plugin, _) = pulse::startup::stager(config)?
        .stage(&PluginSource::read(path)?, None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(plugin)
}

/// Median wall time of `reps` runs of `call`, in ms.
pub fn median_ms(reps: usize, mut call: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        call()?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(percentiles(&mut times).0)
}

/// `trend`'s analysis alone in wasm on `market`, in ms: `bench-analyzer`'s call at `repeat`
/// less its call at 1, over `repeat - 1`. Also returns that call at 1 (a whole call).
pub fn wasm_analysis_ms(options: &Options, market: &CallMarket, repeat: usize, reps: usize) -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let name = &bench_analyzers(dir.path(), 1)?[0];
    let path = dir.path().join(format!("{name}.wasm"));
    let once = stage(&raised(options, "")?, &path)?;
    let many = stage(
        &raised(options, &format!("[plugin.{name}]\nrepeat = {repeat}\n"))?,
        &path,
    )?;
    let call = |plugin: &LoadedPlugin| plugin.analyze(market, &[]).map(drop).map_err(anyhow::Error::from);
    let once_ms = median_ms(reps, || call(&once))?;
    let many_ms = median_ms(reps, || call(&many))?;
    Ok((once_ms, (many_ms - once_ms) / (repeat - 1) as f64))
}

fn measure(options: &Options, symbols: usize) -> Result<Value> {
    let reps = reps(options, symbols);
    let plugin = stage(&raised(options, "")?, &plugin_wasm("trend")?)?;
    let simulated = pulse::check::simulated_market(&Config::default(), symbols, plugin.needs());
    let host_market = simulated.view();
    let guest_market = pulse_sdk::MarketView::new(to_guest(&host_market));
    let settings = trend::Config::default();
    // The analysis alone natively, as `bench-analyzer` repeats it in wasm: the scores, without
    // the held signals and the state.
    let native_analysis_ms = median_ms(reps, || {
        std::hint::black_box(
            trend::scores(std::hint::black_box(&guest_market), &settings).map_err(anyhow::Error::msg)?,
        );
        Ok(())
    })?;
    let native_ms = median_ms(reps, || {
        // What the plugin's call does natively: its analysis, the signals it holds, its state
        // encoded for the next call.
        let mut held = pulse_sdk::HeldSignals::default();
        let out = trend::Trend::analyze(&guest_market, &settings, &mut held).map_err(anyhow::Error::msg)?;
        std::hint::black_box((out, trend::Trend::encode_state(&held).map_err(anyhow::Error::msg)?));
        Ok(())
    })?;
    let wasm_ms = median_ms(reps, || {
        std::hint::black_box(plugin.analyze(&host_market, &[])?);
        Ok(())
    })?;
    let repeat = if symbols <= 1_000 { 21 } else { 6 };
    let (_, analysis_ms) = wasm_analysis_ms(options, &host_market, repeat, reps)?;
    let result = json!({
        "scenario": "wasm-vs-native",
        "symbols": symbols,
        "history_depth": plugin.info.history_depth,
        "candles": plugin.info.candles.iter().map(|r| format!("{}x{}", pulse::shared::timeframe::label(r.timeframe), r.depth)).collect::<Vec<_>>(),
        "reps": reps,
        "native_ms_p50": native_ms,
        "native_analysis_ms_p50": native_analysis_ms,
        "wasm_call_ms_p50": wasm_ms,
        "wasm_analysis_ms_p50": analysis_ms,
        "ratio_wasm_to_native": wasm_ms / native_ms,
        "ratio_analysis_wasm_to_native": analysis_ms / native_analysis_ms,
    });
    eprintln!(
        "wasm-vs-native at {symbols} symbols: whole call native {native_ms:.3} ms, wasm {wasm_ms:.3} ms ({:.2}x); \
         analysis alone native {native_analysis_ms:.3} ms, wasm {analysis_ms:.3} ms ({:.2}x)",
        wasm_ms / native_ms,
        analysis_ms / native_analysis_ms
    );
    Ok(result)
}

/// The same market in the guest SDK's types.
fn to_guest(call: &CallMarket) -> pulse_sdk::Market {
    let m = &call.record;
    pulse_sdk::Market {
        cycle: m.cycle,
        timestamp_ms: m.timestamp_ms,
        snapshot_age_ms: m.snapshot_age_ms,
        source: m.source.to_string(),
        symbols: pulse_sdk::SymbolNames {
            text: m.symbols.text.to_string(),
            ends: m.symbols.ends.to_vec(),
        },
        data_age_ms: m.data_age_ms.to_vec(),
        price: m.price.to_vec(),
        change_24h: m.change_24h.to_vec(),
        volume_24h: m.volume_24h.to_vec(),
        turnover_24h: m.turnover_24h.to_vec(),
        high_24h: m.high_24h.to_vec(),
        low_24h: m.low_24h.to_vec(),
        history: pulse_sdk::History {
            lengths: m.history.lengths.to_vec(),
            price: m.history.price.to_vec(),
            volume_24h: m.history.volume_24h.to_vec(),
            timestamp_ms: m.history.timestamp_ms.to_vec(),
        },
        candles: m
            .candles
            .iter()
            .map(|c| pulse_sdk::Candles {
                timeframe: GUEST_TIMEFRAMES[pulse::shared::timeframe::index(c.timeframe)],
                lengths: c.lengths.to_vec(),
                forming: c.forming.to_vec(),
                start_ms: c.start_ms.to_vec(),
                open: c.open.to_vec(),
                high: c.high.to_vec(),
                low: c.low.to_vec(),
                close: c.close.to_vec(),
                volume: c.volume.to_vec(),
                turnover: c.turnover.to_vec(),
            })
            .collect(),
    }
}

/// The guest's time frames, in the order of `pulse::shared::timeframe::TIMEFRAMES`.
const GUEST_TIMEFRAMES: [pulse_sdk::Timeframe; 6] = [
    pulse_sdk::Timeframe::M1,
    pulse_sdk::Timeframe::M5,
    pulse_sdk::Timeframe::M15,
    pulse_sdk::Timeframe::H1,
    pulse_sdk::Timeframe::H4,
    pulse_sdk::Timeframe::D1,
];
