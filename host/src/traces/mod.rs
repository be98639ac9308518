//! Traces over OTLP, under `[telemetry]`: the cycle's `tracing` spans (`pipeline/spans.rs`)
//! become OpenTelemetry spans and go to a collector in batches, on the SDK's own thread.
//!
//! A cycle never waits for the export. Ended spans wait in a bounded queue
//! ([`queue::BoundedQueue`]); while the collector is slow or away they are dropped at that
//! bound and counted, as are the batches the collector does not take
//! (`shared::trace_export`, on `/metrics`). With no endpoint configured there is no layer, and
//! the spans the pipeline opens cost next to nothing: no layer is interested in them.

mod queue;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::{Config, OtlpProtocol, TelemetryConfig};

/// The OpenTelemetry scope the spans are recorded under.
const SCOPE: &str = "pulse";
/// How long the stop waits for the last spans to reach the collector.
const FLUSH_AT_STOP: Duration = Duration::from_secs(1);
/// Spans sent in one export at most (the SDK's default).
const MAX_BATCH: usize = 512;
/// How often the queue is sent while it holds less than a batch.
const SEND_EVERY: Duration = Duration::from_secs(1);

/// The running export: its provider, flushed and shut down at [`Traces::stop`].
pub struct Traces {
    /// Owns the batch processor and its thread.
    provider: SdkTracerProvider,
    /// Where the spans go, for the log.
    endpoint: String,
}

impl Traces {
    /// Starts the export `config` asks for, if it names an endpoint.
    pub fn start(config: &Config) -> Result<Option<Self>> {
        let telemetry = &config.telemetry;
        let Some(base) = &telemetry.endpoint else {
            return Ok(None);
        };
        let endpoint = match telemetry.protocol {
            OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
        };
        let exporter = exporter(telemetry, &endpoint).with_context(|| format!("[telemetry] endpoint {endpoint}"))?;
        // The SDK's own queue is as long as ours, which counts every span the SDK holds, so
        // ours drops first (and counts what it drops) and the SDK's never fills.
        let batches = BatchConfigBuilder::default()
            .with_max_queue_size(telemetry.queue_spans)
            .with_max_export_batch_size(MAX_BATCH.min(telemetry.queue_spans))
            .with_scheduled_delay(SEND_EVERY)
            .build();
        let (processor, exporter) = queue::bounded(telemetry.queue_spans, exporter, &endpoint);
        let processor = processor.wrapping(BatchSpanProcessor::new(exporter, batches));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource(config))
            .build();
        Ok(Some(Self { provider, endpoint }))
    }

    /// The layer that turns the pipeline's spans into OpenTelemetry spans: only spans, only
    /// the daemon's own (never an HTTP client's, which would trace the export itself).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(SCOPE))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_filter(
                filter_fn(|meta| {
                    let target = meta.target();
                    meta.is_span() && (target == "pulse" || target.starts_with("pulse::"))
                })
                .with_max_level_hint(LevelFilter::INFO),
            )
    }

    /// Where the spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends what is queued, waiting at most [`FLUSH_AT_STOP`], and stops the export.
    pub fn stop(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(FLUSH_AT_STOP) {
            tracing::warn!("traces: the last spans may not have reached {}: {e}", self.endpoint);
        }
    }
}

/// The OTLP exporter of `telemetry`, sending protobuf over HTTP to `endpoint`.
fn exporter(telemetry: &TelemetryConfig, endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter> {
    // The HTTP client's TLS (rustls) needs its crypto provider chosen once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let headers: HashMap<String, String> = telemetry.headers.clone().into_iter().collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(telemetry.timeout())
        .with_headers(headers)
        .build()?;
    Ok(exporter)
}

/// What the spans say of where they come from: the service, its version, and which daemon of
/// a pair (its `[ha] id`, else the host name).
fn resource(config: &Config) -> Resource {
    let instance = config
        .ha
        .as_ref()
        .and_then(|ha| ha.id.clone())
        .or_else(|| rustix::system::uname().nodename().to_str().ok().map(str::to_string));
    let mut attributes = vec![KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))];
    if let Some(instance) = instance {
        attributes.push(KeyValue::new("service.instance.id", instance));
    }
    Resource::builder()
        .with_service_name(config.telemetry.service_name.clone())
        .with_attributes(attributes)
        .build()
}
