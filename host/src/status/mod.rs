//! What the daemon knows about its own health: per-plugin counters and the circuit breaker
//! ([`StatusBoard`], published each cycle as `pulse:status`), the Prometheus [`Metrics`], and
//! the status HTTP server that serves them with `/healthz` and `/plugins`, and the notices a
//! systemd unit waits for. Shadow versions have records of their own ([`ShadowBoard`]).

mod board;
mod call_times;
mod collector;
mod connections;
mod document;
mod evaluation_series;
mod http;
mod instructions;
mod leadership;
mod live;
mod metrics;
mod plugin_series;
mod probation;
mod prometheus;
mod shadows;
mod summary;
pub mod systemd;
mod telemetry;

pub use board::{PluginStatus, StatusBoard, MAX_BACKOFF_CYCLES};
pub use connections::Limits;
pub use document::status_entry;
pub use http::StatusServer;
pub use metrics::Metrics;
pub use shadows::{Differences, ShadowBoard, ShadowStatus};
pub use summary::{CycleFacts, CycleSummary, CycleWrite};
pub use telemetry::Telemetry;
