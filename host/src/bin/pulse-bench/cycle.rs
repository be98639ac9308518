//! The full cycle in process: simulated snapshot, history, the bundled plugins, aggregation and
//! the memcached write, back to back, at N symbols. Each symbol count runs in a process of its
//! own so that its peak RSS is its own.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pulse::config::{Bytes, Config, MemoryMib, Millis, ResidentMib, SymbolCount};
use pulse::source::Source;
use pulse::startup;
use serde_json::{json, Value};

use crate::breakdown::{self, Steps};
use crate::harness::{bundled_plugins, peak_rss_bytes, percentiles};
use crate::Options;
use pulse_testkit::Caches;

/// Runs at `--symbols`, or at 30, 1,000, 10,000 and 100,000, and at 100,000 with a breakdown
/// key for every symbol (each in a child process).
pub fn run(options: &Options) -> Result<Vec<Value>> {
    if let Some(symbols) = options.symbols {
        return Ok(vec![measure(options, symbols)?]);
    }
    let sizes: &[(usize, bool)] = if options.quick {
        &[(30, false)]
    } else {
        &[
            (30, false),
            (1_000, false),
            (10_000, false),
            (100_000, false),
            (100_000, true),
        ]
    };
    let mut results = Vec::new();
    for &(symbols, every_breakdown) in sizes {
        let mut child = Command::new(std::env::current_exe()?);
        child.args([
            "--scenario",
            "cycle",
            "--symbols",
            &symbols.to_string(),
            "--memcached",
            &options.memcached,
        ]);
        if options.quick {
            child.arg("--quick");
        }
        if every_breakdown {
            child.arg("--every-breakdown");
        }
        let out = child.output().context("cannot run pulse-bench for one size")?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("the cycle run at {symbols} symbols failed");
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut value: Value = serde_json::from_str(line)?;
            if let Some(object) = value.as_object_mut() {
                object.remove("machine");
            }
            results.push(value);
        }
    }
    Ok(results)
}

/// The benchmark's config at `symbols` with the plugins of `plugin_dir`: every limit raised so
/// that a call on a large market is measured, not refused.
pub fn bench_config(options: &Options, symbols: usize, plugin_dir: &Path) -> Config {
    let mut config = Config {
        plugin_dir: plugin_dir.to_path_buf(),
        compile_cache: Some(Caches::Bench.compile_cache()),
        host_key: Some(Caches::Bench.host_key()),
        memcached: vec![options.memcached.clone()],
        symbols: SymbolCount(symbols),
        ..Config::default()
    };
    config.sandbox.call_timeout_ms = Millis(10_000);
    config.sandbox.memory_mib = MemoryMib(1024);
    config.sandbox.resident_mib = ResidentMib(1024);
    config.sandbox.max_result_bytes = Bytes(1 << 30);
    config.cache.write_deadline_ms = Some(Millis(5_000));
    config.sandbox.count_instructions = options.count_instructions;
    if options.every_breakdown {
        let mut dashboard = toml::Table::new();
        dashboard.insert("max_breakdowns".into(), toml::Value::Integer(symbols as i64));
        config.plugin.insert("dashboard".into(), dashboard);
    }
    config
}

/// What `cycles` back-to-back cycles under `config` took, after two warm-up cycles.
pub struct Cycles {
    /// Each cycle's wall time, in ms.
    pub times_ms: Vec<f64>,
    /// Plugins the daemon served (analyzers and aggregators loaded).
    pub plugins_served: usize,
    /// Keys written, entries dropped and writes failed, per cycle.
    pub written: f64,
    pub dropped: f64,
    pub failed: f64,
    /// The steps of cycles run after the timed ones, from their spans.
    pub steps: Vec<Steps>,
}

impl Cycles {
    /// The figures every cycle-timing scenario reports, as JSON fields, with the cycle's p50,
    /// p99 and max (ms) for the scenario's own line.
    pub fn report(&mut self) -> (Value, (f64, f64, f64)) {
        let (p50, p99, max) = percentiles(&mut self.times_ms);
        let mut fields = json!({
            "cycles": self.times_ms.len(),
            "plugins_served": self.plugins_served,
            "cycle_ms_p50": p50,
            "cycle_ms_p99": p99,
            "cycle_ms_max": max,
            "keys_written_per_cycle": self.written,
            "entries_dropped_per_cycle": self.dropped,
            "writes_failed_per_cycle": self.failed,
            "peak_rss_bytes": peak_rss_bytes(),
        });
        if !self.steps.is_empty() {
            fields["steps"] = Steps::report(&self.steps);
        }
        (fields, (p50, p99, max))
    }
}

/// Cycles cut into their steps after `cycles` timed ones: a fifth as many (at least 3). Their
/// p99 is near their maximum when they are few (20 at 10,000 symbols).
pub fn step_cycles(cycles: usize) -> usize {
    (cycles / 5).max(3)
}

/// Runs the pipeline under `config` for `cycles` cycles, timing each, then `step_cycles` more,
/// each cut into its steps.
pub fn run_cycles(config: &Config, cycles: usize, step_cycles: usize) -> Result<Cycles> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let source = Source::from_config(config)?;
        let (_reloader, mut feed) = startup::load_plugins(config)?;
        let generation = feed.generation();
        let plugins_served = generation.analyzers.len() + generation.aggregators.len();
        let mut pipeline = startup::pipeline(config, source, feed, startup::memcached(config).await?);
        // Two warm-up cycles: the first instantiations and connections.
        for _ in 0..2 {
            pipeline.run_cycle().await;
        }
        let mut times_ms = Vec::with_capacity(cycles);
        let (mut written, mut dropped, mut failed) = (0usize, 0usize, 0usize);
        for _ in 0..cycles {
            let started = Instant::now();
            let summary = pipeline.run_cycle().await.context("the simulated source never ends")?;
            times_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            written += summary.write.report.written;
            dropped += summary.facts.dropped;
            failed += summary.write.report.failed;
        }
        breakdown::timing(step_cycles > 0);
        let mut steps = Vec::with_capacity(step_cycles);
        for _ in 0..step_cycles {
            let started = Instant::now();
            pipeline.run_cycle().await;
            steps.push(Steps::take(started.elapsed().as_secs_f64() * 1000.0));
        }
        breakdown::timing(false);
        let per_cycle = |n: usize| n as f64 / cycles as f64;
        Ok(Cycles {
            times_ms,
            plugins_served,
            written: per_cycle(written),
            dropped: per_cycle(dropped),
            failed: per_cycle(failed),
            steps,
        })
    })
}

fn measure(options: &Options, symbols: usize) -> Result<Value> {
    // Enough cycles that p99 is not the slowest one: 1,000 while a cycle takes milliseconds,
    // 100 beyond (seconds in all).
    let cycles = match (options.quick, symbols) {
        (true, _) => 3,
        (false, ..=1_000) => 1_000,
        (false, _) => 100,
    };
    let plugins = bundled_plugins()?;
    let mut run = run_cycles(
        &bench_config(options, symbols, plugins.path()),
        cycles,
        step_cycles(cycles),
    )?;
    let (mut result, (p50, p99, max)) = run.report();
    result["scenario"] = json!("cycle");
    result["symbols"] = json!(symbols);
    result["breakdown_keys"] = json!(if options.every_breakdown {
        "every symbol"
    } else {
        "default bound"
    });
    eprintln!(
        "cycle at {symbols} symbols ({}): p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms, {:.0} keys/cycle, {:.0} dropped, peak RSS {} MiB; {}",
        result["breakdown_keys"].as_str().unwrap_or_default(),
        run.written,
        run.dropped,
        peak_rss_bytes() >> 20,
        Steps::line(&run.steps)
    );
    Ok(result)
}
