//! The status HTTP server on `--listen`: `/metrics` for Prometheus, `/healthz` for load
//! balancers and systemd, `/plugins` for people. It only reads [`Telemetry`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;

use super::connections::{self, Limits};
use super::Telemetry;

/// The content type of the OpenMetrics text format that `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A bound, not yet serving, status server.
pub struct StatusServer {
    /// The bound socket.
    listener: TcpListener,
}

impl StatusServer {
    /// Binds `addr`, so a taken port fails start-up rather than a later scrape.
    pub async fn bind(addr: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (--listen) for the status server"))?;
        Ok(Self { listener })
    }

    /// The address it listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves requests in the background for the life of the runtime, holding at most
    /// `limits` connections at once (see [`connections`](super::connections)).
    pub fn spawn(self, telemetry: Arc<Telemetry>, limits: Limits) {
        let app = Router::new()
            .route("/", get(index))
            .route("/metrics", get(metrics))
            .route("/healthz", get(healthz))
            .route("/plugins", get(plugins))
            .route("/shadow/{name}", get(shadow))
            .route("/stream", get(stream))
            .with_state(telemetry);
        tokio::spawn(connections::serve(self.listener, app, limits));
    }
}

async fn index() -> &'static str {
    "pulse status server\n/metrics  Prometheus metrics\n/healthz  200 while cycles run and the last full cache write is \
     younger than the TTL, else 503 with the reason\n/plugins  loaded plugins and their counters, then the shadow versions (JSON)\n\
     /shadow/NAME  the shadow version of NAME and how its results differ from the serving version's (JSON)\n\
     /stream  a streaming source's connections and counts, and each symbol's continuity: gap-free since when, and how old its data is (JSON)\n"
}

async fn metrics(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, OPENMETRICS)], telemetry.metrics.encode())
}

async fn healthz(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    match telemetry.health(Instant::now()) {
        Ok(summary) => (StatusCode::OK, format!("ok: {summary}\n")),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {reason}\n")),
    }
}

/// The plugin list; with `[ha]`, a `Pulse-Role` header says whether these plugins serve
/// (`leader; term=N`) or stand by (`standby; leader=ID`).
async fn plugins(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    let role = telemetry
        .role()
        .and_then(|role| header::HeaderValue::from_str(&role).ok());
    let serving = telemetry
        .plugins()
        .into_iter()
        .map(|p| serde_json::to_value(p.listed()).unwrap_or_default());
    let shadows = telemetry
        .shadows()
        .into_iter()
        .map(|s| serde_json::to_value(s).unwrap_or_default());
    let mut response = Json(serving.chain(shadows).collect::<Vec<_>>()).into_response();
    if let Some(role) = role {
        response.headers_mut().insert("pulse-role", role);
    }
    response
}

/// A streaming source's state as of the last cycle, with each symbol's continuity (gap-free
/// since when, `null` in a gap) and the age of its newest data at the cycle; 404 for a source
/// that does not stream.
async fn stream(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    let Some(health) = telemetry.stream() else {
        return (StatusCode::NOT_FOUND, "the source does not stream\n").into_response();
    };
    let mut doc = serde_json::to_value(&health).unwrap_or_default();
    let at = telemetry.last_cycle_ms().unwrap_or_default();
    let symbols: Vec<serde_json::Value> = health
        .symbols
        .iter()
        .map(|s| {
            serde_json::json!({
                "symbol": s.symbol,
                "gap_free_since_ms": s.gap_free_since_ms,
                "data_age_ms": at.saturating_sub(s.data_ms).max(0),
            })
        })
        .collect();
    doc["symbols"] = serde_json::Value::Array(symbols);
    Json(doc).into_response()
}

/// The shadow version of `name`, 404 when there is none; with `[ha]`, the `Pulse-Role` header
/// says whether this daemon leads, as on `/plugins` (`pulse promote --if-better` reads the leader's).
async fn shadow(State(telemetry): State<Arc<Telemetry>>, Path(name): Path<String>) -> impl IntoResponse {
    let role = telemetry
        .role()
        .and_then(|role| header::HeaderValue::from_str(&role).ok());
    match telemetry.shadows().into_iter().find(|s| s.plugin.name == name) {
        Some(shadow) => {
            let mut response = Json(shadow).into_response();
            if let Some(role) = role {
                response.headers_mut().insert("pulse-role", role);
            }
            response
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("no shadow version of {name:?} is loaded\n"),
        )
            .into_response(),
    }
}
