//! Pulse beside what a user would build instead: `alternative.py`, one straightforward Python
//! process doing the bundled plugins' work (indicators on the same candles, the dashboard's
//! keys, a pipelined pymemcache write), against the same memcached, at the same sizes, in the
//! same run.

use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cycle::{bench_config, run_cycles};
use crate::harness::{bundled_plugins, percentiles};
use crate::Options;

/// The Python service, written out to run.
const SCRIPT: &str = include_str!("alternative.py");

/// Runs at `--symbols`, or at 30, 1,000 and 10,000.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let sizes = match options.symbols {
        Some(n) => vec![n],
        None if options.quick => vec![30],
        None => vec![30, 1_000, 10_000],
    };
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("alternative.py");
    std::fs::write(&script, SCRIPT)?;
    let plugins = bundled_plugins()?;
    sizes
        .into_iter()
        .map(|symbols| {
            let cycles = match (options.quick, symbols) {
                (true, _) => 3,
                (false, n) if n <= 30 => 50,
                (false, n) if n <= 1_000 => 20,
                _ => 5,
            };
            let python = python_cycles(&script, symbols, cycles, &options.memcached)?;
            let mut pulse = run_cycles(&bench_config(options, symbols, plugins.path()), cycles, 0)?;
            let (pulse_p50, pulse_p99, _) = percentiles(&mut pulse.times_ms);
            let python_p50 = python["cycle_ms_p50"].as_f64().context("no cycle_ms_p50 from python")?;
            let python_p99 = python["cycle_ms_p99"].as_f64().context("no cycle_ms_p99 from python")?;
            eprintln!(
                "alternative at {symbols} symbols: Python cycle p50 {python_p50:.2} ms, Pulse {pulse_p50:.2} ms: \
                 Pulse {:.1}x faster",
                python_p50 / pulse_p50
            );
            Ok(json!({
                "scenario": "alternative",
                "symbols": symbols,
                "cycles": cycles,
                "python_cycle_ms_p50": python_p50,
                "python_cycle_ms_p99": python_p99,
                "python_keys_written_per_cycle": python["keys_written_per_cycle"],
                "pulse_cycle_ms_p50": pulse_p50,
                "pulse_cycle_ms_p99": pulse_p99,
                "pulse_keys_written_per_cycle": pulse.written,
                "ratio_python_to_pulse_p50": python_p50 / pulse_p50,
            }))
        })
        .collect()
}

/// Runs the Python service for `cycles` cycles at `symbols`; its JSON line.
fn python_cycles(script: &std::path::Path, symbols: usize, cycles: usize, memcached: &str) -> Result<Value> {
    let out = Command::new("python3")
        .arg(script)
        .args(["--symbols", &symbols.to_string(), "--cycles", &cycles.to_string()])
        .args(["--memcached", memcached])
        .output()
        .context("cannot run python3 (install it: apt-get install python3)")?;
    if !out.status.success() {
        bail!(
            "the Python alternative failed (it needs pymemcache: scripts/setup-tests, or \
             `python3 -m pip install pymemcache==4.0.0`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("the Python alternative printed no JSON line")
}
