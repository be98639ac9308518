//! The cycle's spans, for traces (`[telemetry]`, exported by `traces`): one per cycle, with a
//! child for the snapshot, one for each plugin call and one for the write, each carrying what
//! an operator asks of it. The shapes live here, so a trace reads the same whoever opens the
//! span. With traces off no layer wants these spans, and opening one costs a check.

use std::time::Duration;

use tracing::field::Empty;
use tracing::{info_span, Span};

use crate::plugin::{is_shadow_file, LoadedPlugin};
use crate::shared::call::CallOutcome;
use crate::shared::entry::ValidEntry;
use crate::status::CycleWrite;

/// The span of cycle `cycle` on `source`; its outcome is set by [`cycle_done`].
pub(super) fn cycle(cycle: u64, source: &str) -> Span {
    info_span!(
        "cycle",
        cycle,
        source,
        symbols = Empty,
        wrote = Empty,
        duration_ms = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// The span of the market served to the cycle; what was served is set by [`served`].
pub(super) fn snapshot(source: &str) -> Span {
    info_span!(
        "snapshot",
        source,
        outcome = Empty,
        symbols = Empty,
        age_ms = Empty,
        otel.status_description = Empty
    )
}

/// Says on `span` what the market served: `fresh`, `held` (the last good snapshot, `age` old,
/// while the source fails) or `none` (nothing young enough); `symbols` is the snapshot's size,
/// `error` the source's while it fails.
pub(super) fn served(span: &Span, symbols: Option<usize>, age: Option<Duration>, error: Option<&str>) {
    let outcome = match (symbols, age) {
        (Some(_), Some(age)) if age.is_zero() => "fresh",
        (Some(_), _) => "held",
        (None, _) => "none",
    };
    span.record("outcome", outcome);
    if let Some(symbols) = symbols {
        span.record("symbols", symbols);
    }
    if let Some(age) = age {
        span.record("age_ms", age.as_secs_f64() * 1000.0);
    }
    if let Some(error) = error {
        span.record("otel.status_description", error);
    }
}

/// The span of a call of `plugin` on `symbols` symbols, from its start to its end; its outcome
/// is set by [`call_done`].
pub(super) fn call(plugin: &LoadedPlugin, symbols: usize) -> Span {
    let kind = plugin.kind.label();
    info_span!(
        "plugin call",
        otel.name = %format_args!("{kind} {}", plugin.id),
        plugin = %plugin.id,
        version = %plugin.info.version,
        hash = %plugin.short_hash(),
        kind,
        shadow = is_shadow_file(&plugin.path),
        symbols,
        outcome = Empty,
        duration_ms = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// Says on a call's `span` how it ended: `ok`, or the failure's kind with its reason.
pub(super) fn call_done(span: &Span, outcome: &CallOutcome) {
    span.record("duration_ms", outcome.duration_ms);
    match outcome.failure {
        None => span.record("outcome", "ok"),
        Some(failure) => {
            span.record("outcome", failure.label());
            span.record("otel.status_code", "error");
            span.record("otel.status_description", outcome.error.as_deref().unwrap_or_default())
        }
    };
}

/// The span of the cycle's write of `entries`; how it went is set by [`write_done`].
pub(super) fn write(entries: &[ValidEntry]) -> Span {
    // Fields are worked out only when a layer wants the span: with traces off, never.
    info_span!(
        "write",
        keys = entries.len(),
        bytes = entries.iter().map(|e| e.value.len()).sum::<usize>(),
        servers = Empty,
        wrote = Empty,
        written = Empty,
        failed = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// Says on the write's `span` how it went: whether this daemon wrote (a standby does not),
/// the entries stored and not, and the servers written to.
pub(super) fn write_done(span: &Span, write: &CycleWrite) {
    span.record("wrote", write.wrote);
    span.record("servers", write.cache.servers.len());
    span.record("written", write.report.written);
    span.record("failed", write.report.failed);
    if let Some(error) = write.error() {
        span.record("otel.status_code", "error");
        span.record("otel.status_description", error);
    }
}

/// Says on the cycle's `span` what it served and wrote; a failed write fails the cycle (a
/// failed call fails its own span).
pub(super) fn cycle_done(span: &Span, symbols: usize, write: &CycleWrite) {
    span.record("symbols", symbols);
    span.record("wrote", write.wrote);
    span.record("duration_ms", write.seconds * 1000.0);
    if let Some(error) = write.error() {
        span.record("otel.status_code", "error");
        span.record("otel.status_description", format!("cache write: {error}").as_str());
    }
}

/// The trace id of `span`, in hex, when traces are on; for the log line of a slow or failed
/// cycle, so it can be found in the collector.
pub(super) fn trace_id(span: &Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}
