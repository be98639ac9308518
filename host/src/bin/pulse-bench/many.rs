//! Many plugins: 20 analyzers running `trend`'s analysis (copies of the `bench-analyzer`
//! fixture under 20 names) and two aggregators (the dashboard and `bench-digest`) at 1,000
//! symbols. Reports the cycle, and what a call costs beyond its analysis: the whole call of
//! one analyzer less its analysis alone, on the same market.

use anyhow::Result;
use pulse::config::PluginSandbox;
use serde_json::{json, Value};

use crate::cycle::{bench_config, run_cycles};
use crate::harness::{bench_analyzers, fixture_wasm, plugin_wasm};
use crate::Options;

/// Analyzers in the run.
const ANALYZERS: usize = 20;

/// Runs at `--symbols`, or at 1,000.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let symbols = options.symbols.unwrap_or(if options.quick { 30 } else { 1_000 });
    let cycles = if options.quick { 3 } else { 50 };
    let dir = tempfile::tempdir()?;
    let analyzers = bench_analyzers(dir.path(), ANALYZERS)?;
    std::fs::copy(plugin_wasm("dashboard")?, dir.path().join("dashboard.wasm"))?;
    std::fs::copy(fixture_wasm("bench_digest")?, dir.path().join("bench_digest.wasm"))?;
    let mut config = bench_config(options, symbols, dir.path());
    config.sandbox.plugin.insert(
        "bench-digest".into(),
        PluginSandbox {
            key_prefixes: Some(vec!["bench:".into()]),
            ..PluginSandbox::default()
        },
    );
    let (mut result, (p50, p99, _)) = run_cycles(&config, cycles)?.report();

    let first = pulse::startup::stager(&config)?
        .stage(
            &pulse::plugin::PluginSource::read(&dir.path().join(format!("{}.wasm", analyzers[0])))?,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .0;
    let market = pulse::check::simulated_market(&config, symbols, first.needs());
    let reps = if options.quick { 3 } else { 200 };
    let (call_ms, analysis_ms) = crate::native::wasm_analysis_ms(options, &market.view(), 11, reps)?;
    let fixed_ms = call_ms - analysis_ms;
    for (field, value) in [
        ("scenario", json!("many-plugins")),
        ("symbols", json!(symbols)),
        ("analyzers", json!(ANALYZERS)),
        ("aggregators", json!(2)),
        ("analyzer_call_ms_p50", json!(call_ms)),
        ("analyzer_analysis_ms_p50", json!(analysis_ms)),
        ("per_call_fixed_ms", json!(fixed_ms)),
    ] {
        result[field] = value;
    }
    eprintln!(
        "many plugins ({ANALYZERS} analyzers, 2 aggregators) at {symbols} symbols: cycle p50 {p50:.2} ms, p99 {p99:.2} ms; \
         one analyzer call {call_ms:.3} ms of which analysis {analysis_ms:.3} ms, fixed {fixed_ms:.3} ms"
    );
    Ok(vec![result])
}
