//! The `pulse` daemon's entry point.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Parser;
use pulse::cli::Cli;
use pulse::traces::Traces;

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
    let ansi = std::io::stderr().is_terminal();
    pulse::logging::init(
        cli.log_format,
        ansi,
        std::io::stderr,
        traces.as_ref().ok().and_then(Option::as_ref),
    );
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
