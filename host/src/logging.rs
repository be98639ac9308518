//! The process's one tracing subscriber: log lines, and the trace export when `[telemetry]`
//! asks for it. Log lines are events only, at `RUST_LOG`'s levels (`info` by default): spans
//! belong to traces, so turning traces on never changes how a line reads. The daemon and the
//! benchmark set up the same subscriber here, so what the benchmark measures is what runs.

use tracing_subscriber::filter::{filter_fn, FilterExt, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::cli::LogFormat;
use crate::traces::Traces;

/// Installs the subscriber: lines in `format` to `writer` (coloured when `ansi`), and the spans
/// to `traces`' export if there is one. Call once, before anything logs.
pub fn init<W>(format: LogFormat, ansi: bool, writer: W, traces: Option<&Traces>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = || {
        let levels = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        // Events only; the hint keeps the levels' own, so what no line wants is never built.
        levels.and(filter_fn(|meta| meta.is_event()).with_max_level_hint(LevelFilter::TRACE))
    };
    let lines = tracing_subscriber::fmt::layer().with_writer(writer);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => lines.with_ansi(ansi).with_filter(filter()).boxed(),
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
