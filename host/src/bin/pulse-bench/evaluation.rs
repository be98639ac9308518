//! `--scenario evaluation`: what scoring verdicts costs. The pipeline's own `Evaluation`, fed as
//! the cycle feeds it (after the write): a fresh snapshot every 2 s of market time, a serving
//! analyzer and its shadow scoring every symbol, the default horizons (1 m to 1 h) and sampling
//! (1 m), for 2 h 10 min of market time so the pending samples reach their bound. Reports the
//! time of each cycle's step (most only check what is due; one a minute samples and scores
//! four horizons) and the resident memory it holds once full, with the symbols in one order and
//! reordered every cycle.

use std::time::Instant;

use anyhow::Result;
use rand::RngExt;
use serde_json::{json, Value};

use crate::harness::percentiles;
use crate::Options;
use pulse::config::EvaluationConfig;
use pulse::evaluation::{Called, Evaluation};
use pulse::shared::call::Fingerprint;
use pulse::shared::contract::{Signal, Verdict};
use pulse::shared::market::{Snapshot, Ticker};

/// Market time between snapshots, as the daemon's default interval.
const STEP_MS: i64 = 2_000;

pub fn run(options: &Options) -> Result<Vec<Value>> {
    let sizes = match (options.symbols, options.quick) {
        (Some(n), _) => vec![n],
        (None, true) => vec![30],
        (None, false) => vec![30, 10_000],
    };
    let cycles = if options.quick { 100 } else { 3_900 };
    let mut results = Vec::new();
    for symbols in sizes {
        for reordered in [false, true] {
            results.push(measure(symbols, cycles, reordered));
        }
    }
    Ok(results)
}

/// One run at `symbols`; `reordered` turns the snapshot's order every cycle (as an exchange's
/// ranking by turnover may), so no two samples share their list of symbols: the most memory the
/// names can take.
fn measure(symbols: usize, cycles: usize, reordered: bool) -> Value {
    let mut rng = rand::rng();
    let mut snapshot = Snapshot {
        timestamp_ms: 1_767_225_600_000,
        tickers: (0..symbols)
            .map(|i| Ticker {
                symbol: format!("B{i:05}USDT"),
                price: 100.0,
                change_24h: 0.0,
                volume_24h: 1.0,
                turnover_24h: 1e9 - i as f64,
                high_24h: 1e9,
                low_24h: 1e-9,
                data_ms: None,
            })
            .collect(),
        candles: Vec::new(),
    };
    let fingerprint = |hash: &str| Fingerprint {
        hash: hash.repeat(64),
        side_config: None,
        signature: None,
    };
    let (serving, shadow) = (fingerprint("a"), fingerprint("b"));
    let verdicts = |rng: &mut rand::rngs::ThreadRng| -> Vec<Option<Verdict>> {
        (0..symbols)
            .map(|_| {
                Some(Verdict {
                    score: rng.random::<f64>() * 100.0,
                    signal: Signal::Neutral,
                })
            })
            .collect()
    };
    let resident = || pulse_testkit::resident_bytes(std::process::id());
    let before = resident();
    let mut evaluation = Evaluation::new(EvaluationConfig::default());
    let mut times_ms = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        snapshot.timestamp_ms += STEP_MS;
        if reordered {
            snapshot.tickers.rotate_left(1);
        }
        for t in &mut snapshot.tickers {
            t.price *= 1.0 + (rng.random::<f64>() - 0.5) * 0.002;
        }
        let (a, b) = (verdicts(&mut rng), verdicts(&mut rng));
        let called = [
            Called {
                plugin: "trend",
                fingerprint: &serving,
                shadow: false,
                verdicts: Some(&a),
            },
            Called {
                plugin: "trend",
                fingerprint: &shadow,
                shadow: true,
                verdicts: Some(&b),
            },
        ];
        let started = Instant::now();
        evaluation.observe(Some(&snapshot), &called);
        times_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let held = resident().saturating_sub(before);
    // What a warm restart's state file gains, as the daemon writes it.
    let saved_bytes = serde_json::to_vec(&evaluation.saved()).map_or(0, |v| v.len());
    let mean = times_ms.iter().sum::<f64>() / times_ms.len() as f64;
    let (p50, p99, max) = percentiles(&mut times_ms);
    let samples = evaluation.figures("trend", &serving, false).map_or(0, |f| f[0].samples);
    let order = if reordered {
        "reordered every cycle"
    } else {
        "in one order"
    };
    eprintln!(
        "evaluation at {symbols} symbols ({order}), 2 versions, 4 horizons: step mean {mean:.3} ms, p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms; {} samples pending, {:.1} MiB resident, {:.1} MiB saved",
        evaluation.pending_samples(),
        held as f64 / (1 << 20) as f64,
        saved_bytes as f64 / (1 << 20) as f64
    );
    json!({
        "scenario": "evaluation",
        "symbols": symbols,
        "reordered": reordered,
        "versions": 2,
        "horizons": 4,
        "cycles": cycles,
        "step_mean_ms": mean,
        "step_p50_ms": p50,
        "step_p99_ms": p99,
        "step_max_ms": max,
        "samples_scored_1m": samples,
        "samples_pending": evaluation.pending_samples(),
        "resident_held_mib": held as f64 / (1 << 20) as f64,
        "saved_json_mib": saved_bytes as f64 / (1 << 20) as f64,
    })
}
