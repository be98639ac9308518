//! Pulse: runs market-analysis WebAssembly plugins every cycle and keeps a memcached cache
//! fresh for dashboards.
//!
//! Data flows one way, one module per step:
//! [`source`] → [`history`] → analyzers → aggregators ([`plugin`]) → [`cache`], driven by
//! [`pipeline`]; [`status`] publishes the daemon's own health and [`verify`] checks the result.

pub mod backtest;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod history;
pub mod log_throttle;
pub mod market;
pub mod pipeline;
pub mod plugin;
pub mod scaffold;
pub mod shutdown;
pub mod source;
pub mod status;
pub mod verify;
