//! Many plugins: 20 analyzers running `trend`'s analysis (copies of the `bench-analyzer`
//! fixture under 20 names) and two aggregators (the dashboard and `bench-digest`) at 1,000
//! symbols. Reports the cycle, and what a call costs beyond its analysis: the whole call of
//! one analyzer less its analysis alone, on the same market, and that fixed cost's parts (the
//! call on one symbol, and what grows with the market), for today's build and, in the same run,
//! for the build of contract 0.3.0 kept in `tests/fixtures/contract-0.3.0`.

use anyhow::Result;
use pulse::config::PluginSandbox;
use serde_json::{json, Value};

use crate::breakdown::Steps;
use crate::cycle::{bench_config, run_cycles, step_cycles};
use crate::harness::{bench_analyzers, bench_analyzers_of, fixture_wasm, plugin_wasm, repo_root};
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
    let mut run = run_cycles(&config, cycles, step_cycles(cycles))?;
    let steps = Steps::line(&run.steps);
    let (mut result, (p50, p99, _)) = run.report();

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
    let parts = fixed_parts(options, &config, symbols, reps, &fixture_wasm("bench_analyzer")?)?;
    let built_for_0_3 = repo_root().join("tests/fixtures/contract-0.3.0/bench_analyzer.wasm");
    let parts_0_3 = fixed_parts(options, &config, symbols, reps, &built_for_0_3)?;
    for (field, value) in [
        ("scenario", json!("many-plugins")),
        ("symbols", json!(symbols)),
        ("analyzers", json!(ANALYZERS)),
        ("aggregators", json!(2)),
        ("analyzer_call_ms_p50", json!(call_ms)),
        ("analyzer_analysis_ms_p50", json!(analysis_ms)),
        ("per_call_fixed_ms", json!(fixed_ms)),
        ("fixed_parts", parts.clone()),
        ("fixed_parts_contract_0_3_0", parts_0_3.clone()),
    ] {
        result[field] = value;
    }
    eprintln!(
        "many plugins ({ANALYZERS} analyzers, 2 aggregators) at {symbols} symbols: cycle p50 {p50:.2} ms, p99 {p99:.2} ms; \
         {steps}; one analyzer call {call_ms:.3} ms of which analysis {analysis_ms:.3} ms, fixed {fixed_ms:.3} ms; \
         its parts: {parts}; the same parts built for contract 0.3.0: {parts_0_3}"
    );
    Ok(vec![result])
}

/// The parts of an analyzer call's fixed cost at `symbols`, from the `bench-analyzer` build at `built` with
/// `repeat = 0` (no analysis; it abstains on every symbol): a call on one symbol is the
/// instance, `init` and the call's own overhead; the same call on `symbols` adds what grows
/// with the market (lowering it into the guest, the SDK's view of it, the abstentions lifted
/// back). Each with its median time and, from a counting copy, the instructions the guest ran.
fn fixed_parts(
    options: &Options,
    config: &pulse::config::Config,
    symbols: usize,
    reps: usize,
    built: &std::path::Path,
) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let name = &bench_analyzers_of(built, dir.path(), 1)?[0];
    let path = dir.path().join(format!("{name}.wasm"));
    let table = format!("[plugin.{name}]\nrepeat = 0\n");
    let timed = crate::native::stage(&crate::native::raised(options, &table)?, &path)?;
    let counting = Options {
        count_instructions: true,
        symbols: options.symbols,
        memcached: options.memcached.clone(),
        quick: options.quick,
        every_breakdown: options.every_breakdown,
    };
    let counted = crate::native::stage(&crate::native::raised(&counting, &table)?, &path)?;
    let part = |n: usize| -> Result<(f64, Option<u64>)> {
        let market = pulse::check::simulated_market(config, n, timed.needs());
        let view = market.view();
        let ms = crate::native::median_ms(reps, || {
            timed.analyze(&view, &[]).map(drop).map_err(anyhow::Error::from)
        })?;
        counted.analyze(&view, &[]).map_err(anyhow::Error::from)?;
        Ok((ms, pulse::plugin::take_instructions()))
    };
    let (one_ms, one_instructions) = part(1)?;
    let (all_ms, all_instructions) = part(symbols)?;
    Ok(json!({
        "call_on_one_symbol_ms": one_ms,
        "call_on_one_symbol_instructions": one_instructions,
        "market_in_and_out_ms": all_ms - one_ms,
        "market_in_and_out_instructions": all_instructions.zip(one_instructions).map(|(a, b)| a.saturating_sub(b)),
        "no_analysis_call_ms": all_ms,
    }))
}
