//! An OTLP trace receiver on loopback, built on the official protobuf definitions
//! (`opentelemetry-proto`): it takes `POST /v1/traces` as a collector does, answers as one, and
//! keeps every span it was sent, flattened, for a test to read the tree from.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

/// A span as received.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The trace it belongs to, in hex.
    pub trace_id: String,
    /// Its own id, in hex.
    pub span_id: String,
    /// Its parent's id in hex; empty for a root.
    pub parent_span_id: String,
    /// Its name.
    pub name: String,
    /// Its attributes, each value as text (strings bare, numbers and booleans as written).
    pub attributes: BTreeMap<String, String>,
    /// 1 ok, 2 error, 0 unset.
    pub status_code: i32,
    /// The status message.
    pub status_message: String,
    /// Its start and end, in Unix nanoseconds.
    pub start_ns: u64,
    /// Its end.
    pub end_ns: u64,
    /// Its resource's attributes (`service.name`, ...).
    pub resource: BTreeMap<String, String>,
}

impl ReceivedSpan {
    /// The attribute `name`, if it has it.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

/// A receiver listening on loopback until dropped.
pub struct OtlpReceiver {
    /// The server, unblocked on drop.
    server: Arc<tiny_http::Server>,
    /// Every span received, in order.
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    /// Requests that were not a trace export it could read.
    refused: Arc<Mutex<Vec<String>>>,
    /// The port.
    port: u16,
}

impl OtlpReceiver {
    /// Starts a receiver on a free loopback port.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts a receiver on loopback port `port` (0: a free one), as a collector coming back
    /// where it was.
    pub fn start_on(port: u16) -> Self {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let (serving, received, refusals) = (server.clone(), spans.clone(), refused.clone());
        std::thread::spawn(move || {
            for mut request in serving.incoming_requests() {
                let mut body = Vec::new();
                let read = request.as_reader().read_to_end(&mut body);
                let path = request.url().to_string();
                let decoded = read
                    .ok()
                    .filter(|_| path == "/v1/traces" && *request.method() == tiny_http::Method::Post)
                    .and_then(|_| ExportTraceServiceRequest::decode(&body[..]).ok());
                let Some(export) = decoded else {
                    refusals.lock().unwrap().push(format!("{} {path}", request.method()));
                    let _ = request.respond(tiny_http::Response::empty(400));
                    continue;
                };
                received.lock().unwrap().extend(flatten(export));
                let answer = ExportTraceServiceResponse::default().encode_to_vec();
                let header = tiny_http::Header::from_bytes("Content-Type", "application/x-protobuf").unwrap();
                let _ = request.respond(tiny_http::Response::from_data(answer).with_header(header));
            }
        });
        Self {
            server,
            spans,
            refused,
            port,
        }
    }

    /// The base URL to give `[telemetry] endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Requests it could not read as a trace export (method and path).
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Every span of `export`, with its resource's attributes.
fn flatten(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in export.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let status = span.status.unwrap_or_default();
                out.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    attributes: attributes(&span.attributes),
                    status_code: status.code,
                    status_message: status.message,
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    resource: resource.clone(),
                });
            }
        }
    }
    out
}

/// Attributes as text.
fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// Bytes as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
