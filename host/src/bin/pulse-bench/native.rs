//! The bundled `trend` analyzer's own code, run natively and as its wasm component on the same
//! market. The wasm time is a whole call as the daemon makes it: a fresh instance, `init`, the
//! market lowered in, the result lifted out.

use std::time::Instant;

use anyhow::Result;
use pulse::config::Config;
use pulse::plugin::PluginSource;
use pulse_sdk::Analyzer;
use serde_json::{json, Value};

use crate::harness::{percentiles, plugin_wasm, repo_root};
use crate::Options;

/// Runs at `--symbols`, or at 30 and 10,000.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let sizes = match options.symbols {
        Some(n) => vec![n],
        None if options.quick => vec![30],
        None => vec![30, 10_000],
    };
    sizes.into_iter().map(|n| measure(options, n)).collect()
}

fn measure(options: &Options, symbols: usize) -> Result<Value> {
    let reps = match (options.quick, symbols) {
        (true, _) => 3,
        (false, n) if n <= 1_000 => 500,
        _ => 30,
    };
    let config = Config::default();
    let source = PluginSource::read(&plugin_wasm("trend")?)?;
    let mut raised = config.clone();
    raised.compile_cache = Some(repo_root().join("target/bench-compile-cache"));
    raised.sandbox.call_timeout_ms = pulse::config::PositiveU64(60_000);
    raised.sandbox.memory_mib = pulse::config::PositiveU64(1024);
    raised.sandbox.resident_mib = 1024;
    raised.sandbox.max_result_bytes = pulse::config::PositiveU64(1 << 30);
    let (plugin, _) = pulse::startup::stager(&raised)?
        .stage(&source, None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let host_market = pulse::check::simulated_market(&config, symbols, plugin.needs());

    let guest_market = pulse_sdk::MarketView::new(to_guest(&host_market));
    let trend_config = trend::Config::default();
    let mut native_ms = Vec::with_capacity(reps);
    let mut wasm_ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        let native = trend::Trend::analyze(&guest_market, &trend_config).map_err(anyhow::Error::msg)?;
        native_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(native);
        let started = Instant::now();
        let wasm = plugin.analyze(&host_market)?;
        wasm_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(wasm);
    }
    let (native_p50, _, _) = percentiles(&mut native_ms);
    let (wasm_p50, wasm_p99, _) = percentiles(&mut wasm_ms);
    let result = json!({
        "scenario": "wasm-vs-native",
        "symbols": symbols,
        "history_depth": plugin.info.history_depth,
        "candles": plugin.info.candles.iter().map(|r| format!("{}x{}", pulse::shared::timeframe::label(r.timeframe), r.depth)).collect::<Vec<_>>(),
        "reps": reps,
        "native_ms_p50": native_p50,
        "wasm_call_ms_p50": wasm_p50,
        "wasm_call_ms_p99": wasm_p99,
        "ratio_wasm_to_native": wasm_p50 / native_p50,
    });
    eprintln!(
        "wasm-vs-native at {symbols} symbols: native {native_p50:.3} ms, wasm call {wasm_p50:.3} ms, ratio {:.2} (goal <= 1.3)",
        wasm_p50 / native_p50
    );
    Ok(result)
}

/// The same market in the guest SDK's types.
fn to_guest(m: &pulse::shared::contract::Market) -> pulse_sdk::Market {
    pulse_sdk::Market {
        cycle: m.cycle,
        timestamp_ms: m.timestamp_ms,
        snapshot_age_ms: m.snapshot_age_ms,
        source: m.source.clone(),
        symbols: m.symbols.clone(),
        price: m.price.clone(),
        change_24h: m.change_24h.clone(),
        volume_24h: m.volume_24h.clone(),
        turnover_24h: m.turnover_24h.clone(),
        high_24h: m.high_24h.clone(),
        low_24h: m.low_24h.clone(),
        history: pulse_sdk::History {
            lengths: m.history.lengths.clone(),
            price: m.history.price.clone(),
            volume_24h: m.history.volume_24h.clone(),
            timestamp_ms: m.history.timestamp_ms.clone(),
        },
        candles: m
            .candles
            .iter()
            .map(|c| pulse_sdk::Candles {
                timeframe: GUEST_TIMEFRAMES[pulse::shared::timeframe::index(c.timeframe)],
                lengths: c.lengths.clone(),
                forming: c.forming.clone(),
                start_ms: c.start_ms.clone(),
                open: c.open.clone(),
                high: c.high.clone(),
                low: c.low.clone(),
                close: c.close.clone(),
                volume: c.volume.clone(),
                turnover: c.turnover.clone(),
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
