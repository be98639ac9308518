//! What traces cost a cycle: the full cycle in process at N symbols with traces off, with every
//! cycle exported to a loopback OTLP receiver, and with a collector that accepts connections and
//! never answers (each export waiting out its timeout, the queue at its bound). Each variant runs
//! in a process of its own, as the tracing subscriber is one per process.

use std::net::TcpListener;
use std::process::Command;

use anyhow::{bail, Context, Result};
use pulse::cli::LogFormat;
use pulse::shared::trace_export::TRACE_EXPORT;
use pulse::traces::Traces;
use pulse_testkit::otlp::OtlpReceiver;
use serde_json::{json, Value};

use crate::cycle::{bench_config, run_cycles};
use crate::harness::bundled_plugins;
use crate::Options;

/// Runs the three variants at `--symbols`, or at 30 and 1,000, each in a child process.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let sizes: Vec<usize> = match (options.symbols, options.quick) {
        (Some(symbols), _) => vec![symbols],
        (None, true) => vec![30],
        (None, false) => vec![30, 1_000],
    };
    let receiver = OtlpReceiver::start();
    let hanging = TcpListener::bind("127.0.0.1:0")?;
    let hanging_url = format!("http://{}", hanging.local_addr()?);
    let mut results = Vec::new();
    for symbols in sizes {
        for (collector, endpoint) in [
            ("none", None),
            ("up", Some(receiver.endpoint())),
            ("hanging", Some(hanging_url.clone())),
        ] {
            let mut child = Command::new(std::env::current_exe()?);
            child.args([
                "--scenario",
                "traces",
                "--trace-variant",
                "--symbols",
                &symbols.to_string(),
            ]);
            child.args(["--memcached", &options.memcached]);
            if let Some(endpoint) = &endpoint {
                child.args(["--trace-to", endpoint]);
            }
            if options.quick {
                child.arg("--quick");
            }
            let out = child.output().context("cannot run pulse-bench for one variant")?;
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                bail!("the traces run at {symbols} symbols, collector {collector}, failed");
            }
            let mut value: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())?;
            value["collector"] = json!(collector);
            results.push(value);
        }
    }
    eprintln!("traces: the loopback receiver holds {} spans", receiver.spans().len());
    Ok(results)
}

/// One variant, in this process: the cycle at `symbols` with its spans exported to `endpoint`
/// (none: traces off), timed as the `cycle` scenario times it.
pub fn measure(options: &Options, symbols: usize, endpoint: Option<&str>) -> Result<Value> {
    let cycles = if options.quick { 3 } else { 1_000 };
    let plugins = bundled_plugins()?;
    let mut config = bench_config(options, symbols, plugins.path());
    config.telemetry.endpoint = endpoint.map(str::to_string);
    // The daemon's timeout and queue; the hanging collector holds each export for all of it.
    let traces = Traces::start(&config)?;
    // The daemon's subscriber: its log lines (here written nowhere) and the export's layer.
    pulse::logging::init(LogFormat::Text, false, std::io::sink, traces.as_ref());
    let mut run = run_cycles(&config, cycles, 0)?;
    let (mut result, (p50, p99, max)) = run.report();
    let counts = TRACE_EXPORT.counts();
    if let Some(traces) = traces {
        traces.stop();
    }
    result["scenario"] = json!("traces");
    result["symbols"] = json!(symbols);
    result["spans_exported"] = json!(counts.exported);
    result["spans_dropped_queue_full"] = json!(counts.dropped_queue_full);
    result["spans_dropped_export_failed"] = json!(counts.dropped_export_failed);
    eprintln!(
        "traces at {symbols} symbols, to {}: cycle p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; \
         spans exported {} (before the stop's flush), dropped at the queue {}",
        endpoint.unwrap_or("nowhere"),
        counts.exported,
        counts.dropped_queue_full
    );
    Ok(result)
}
