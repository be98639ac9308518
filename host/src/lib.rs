//! Pulse: runs market-analysis WebAssembly plugins every cycle and keeps a memcached cache
//! fresh for dashboards.
//!
//! Data flows one way, one module per step: [`config`] → [`source`] → [`history`] and [`candles`] →
//! analyzers → aggregators ([`plugin`]) → [`cache`] → [`status`], driven by [`pipeline`].
//! The imports have the same shape (docs/architecture.md, held by tests/all/architecture.rs): the
//! commands ([`cli`], [`verify`], ...) on top, the pipeline below them, then the stages, which
//! never import each other, then [`config`], and at the bottom [`shared`], the data the stages
//! hand each other. Not all of `shared` is written by hand: `shared/contract.rs` is generated
//! from `wit/` by wasmtime's `bindgen!` at build time, and `shared/market_view.rs` derives
//! wasmtime's `ComponentType` and `Lower` so a market is lowered straight into a plugin.

#![warn(missing_docs)]
#![warn(clippy::too_many_lines)]

pub mod cache;
pub mod candles;
pub mod check;
pub mod cli;
pub mod config;
pub mod evaluation;
pub mod ha;
pub mod hangup;
pub mod history;
pub mod limits;
pub mod logging;
pub mod pipeline;
pub mod plugin;
pub mod promote;
pub mod replay;
pub mod scaffold;
pub mod shared;
pub mod shutdown;
pub mod source;
pub mod startup;
pub mod status;
pub mod traces;
pub mod verify;
