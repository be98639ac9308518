//! `[telemetry]`: traces over OTLP. Off unless `endpoint` names a collector; on, every cycle is
//! a trace (the snapshot, each plugin call and the write its child spans), sent in batches from
//! a bounded queue on a thread of its own, so a collector that is slow or away costs dropped
//! spans, counted, and never a cycle's time.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

/// How spans travel to the collector. OTLP's default transport, protobuf over HTTP, is the one
/// Pulse speaks; a config asking for gRPC is refused by name rather than sent elsewhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum OtlpProtocol {
    /// Protobuf over HTTP (a collector's port 4318).
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Where and how traces are exported.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The collector's base URL (`http://HOST:4318`, or `https://` for TLS), as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` takes it: the spans go to its path `/v1/traces`. None: no
    /// traces.
    pub endpoint: Option<String>,
    /// The transport.
    pub protocol: OtlpProtocol,
    /// Headers sent with every export (a hosted backend's API key, a tenant).
    pub headers: BTreeMap<String, String>,
    /// How long one export may take before its batch is dropped, in milliseconds.
    pub timeout_ms: u64,
    /// The most spans waiting for export; a span ended while the queue is full is dropped and
    /// counted. What bounds the memory traces take while the collector is away.
    pub queue_spans: usize,
    /// `service.name` on every span; the pair's `[ha] id` (else the host name) is its
    /// `service.instance.id`.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            protocol: OtlpProtocol::default(),
            headers: BTreeMap::new(),
            timeout_ms: 10_000,
            queue_spans: 2048,
            service_name: "pulse".to_string(),
        }
    }
}

/// The most headers: a key and a tenant or two, not a store.
const MAX_HEADERS: usize = 16;
/// The longest header value: room for a token.
const MAX_HEADER_BYTES: usize = 4096;
/// The queue's bounds: a few cycles' spans at the least; at the most, about 6 MiB of spans
/// (the SDK reserves a slot of about 370 bytes for each at start).
const QUEUE_SPANS: std::ops::RangeInclusive<usize> = 64..=16_384;

impl TelemetryConfig {
    /// The export timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Fails on an endpoint that is not an `http://` or `https://` URL, headers that could not
    /// be sent, and bounds out of range.
    pub fn check(&self) -> Result<()> {
        if let Some(endpoint) = &self.endpoint {
            let rest = endpoint
                .strip_prefix("http://")
                .or_else(|| endpoint.strip_prefix("https://"));
            if rest.is_none_or(|rest| rest.is_empty() || rest.starts_with('/'))
                || endpoint.chars().any(char::is_whitespace)
            {
                bail!("[telemetry] endpoint {endpoint:?} is not an http:// or https:// URL with a host");
            }
        }
        if self.headers.len() > MAX_HEADERS {
            bail!(
                "[telemetry] headers lists {} headers, more than {MAX_HEADERS}",
                self.headers.len()
            );
        }
        for (name, value) in &self.headers {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token) {
                bail!("[telemetry] header name {name:?} is not an HTTP header name");
            }
            if value.len() > MAX_HEADER_BYTES || value.chars().any(|c| c.is_control() || !c.is_ascii()) {
                bail!("[telemetry] header {name}'s value is over {MAX_HEADER_BYTES} bytes or not printable ASCII");
            }
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            bail!("[telemetry] timeout_ms is {}: from 100 to 60000", self.timeout_ms);
        }
        if !QUEUE_SPANS.contains(&self.queue_spans) {
            bail!(
                "[telemetry] queue_spans is {}: from {} to {}",
                self.queue_spans,
                QUEUE_SPANS.start(),
                QUEUE_SPANS.end()
            );
        }
        if self.service_name.trim().is_empty() || self.service_name.len() > 256 {
            bail!("[telemetry] service_name must be 1 to 256 bytes");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<TelemetryConfig> {
        let config: TelemetryConfig = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    #[test]
    fn off_by_default_and_http_protobuf_when_on() {
        let off = parsed("").unwrap();
        assert!(off.endpoint.is_none());
        let on = parsed("endpoint = \"http://127.0.0.1:4318\"").unwrap();
        assert_eq!(on.protocol, OtlpProtocol::HttpProtobuf);
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        for (text, says) in [
            ("endpoint = \"127.0.0.1:4318\"", "not an http:// or https:// URL"),
            ("endpoint = \"http://\"", "not an http:// or https:// URL"),
            ("endpoint = \"http://a b\"", "not an http:// or https:// URL"),
            (
                "protocol = \"grpc\"",
                "unknown variant `grpc`, expected `http/protobuf`",
            ),
            ("headers = { \"bad name\" = \"x\" }", "not an HTTP header name"),
            ("headers = { key = \"a\\nb\" }", "not printable ASCII"),
            ("timeout_ms = 0", "timeout_ms is 0"),
            ("queue_spans = 1", "queue_spans is 1"),
            ("service_name = \" \"", "service_name"),
        ] {
            let error = format!("{:#}", parsed(text).unwrap_err());
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
