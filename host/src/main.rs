//! The `pulse` daemon's entry point.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Parser;
use pulse::cli::{Cli, LogFormat};
use pulse::traces::Traces;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How long exit waits for plugin calls still running on blocking threads (a call abandoned
/// in a blocking host call); the process exits without them after that.
const EXIT_GRACE: Duration = Duration::from_millis(500);

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pulse: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The trace export `[telemetry]` asks for starts before logging, which carries its layer.
    // A config that does not hold is said by the run itself, once logging is up.
    let traces = match cli.run_config() {
        Some(Ok(config)) => Traces::start(&config),
        _ => Ok(None),
    };
    init_logging(cli.log_format, traces.as_ref().ok().and_then(Option::as_ref));
    let traces = match traces {
        Ok(traces) => traces,
        Err(e) => {
            tracing::error!("cannot start the trace export: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(traces) = &traces {
        tracing::info!("traces: each cycle's spans go to {}", traces.endpoint());
    }
    let result = runtime.block_on(cli.run());
    if let Some(traces) = traces {
        traces.stop();
    }
    runtime.shutdown_timeout(EXIT_GRACE);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Log lines to stderr as `format` says, filtered by `RUST_LOG` (default `info`); with
/// `traces`, the cycle's spans to its export as well. Log lines are events only: spans are for
/// traces, so they never change how a line reads.
fn init_logging(format: LogFormat, traces: Option<&Traces>) {
    let filter = || {
        let levels = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        levels.and(filter_fn(|meta| meta.is_event()))
    };
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => lines
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter())
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(traces.map(Traces::layer))
        .init();
}
