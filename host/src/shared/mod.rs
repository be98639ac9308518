//! The leaf of the module graph: the data and small rules every stage shares, importing
//! nothing else of the crate. The stages talk to each other only through these types.
//!
//! Most of it is plain Rust. Two files are tied to wasmtime: [`contract`] is generated from
//! `wit/` by `bindgen!` at build time (the contract's types, documented in the WIT), and
//! [`market_view`] derives wasmtime's `ComponentType` and `Lower` for the borrowed market a
//! call lowers into a plugin's memory.

pub mod call;
pub mod candle;
pub mod clock;
pub mod columns;
pub mod comparison;
pub mod contract;
pub mod entry;
pub mod evidence;
pub mod files;
pub mod flaps;
pub mod identity;
pub mod leadership;
pub mod log_throttle;
pub mod magnitude;
pub mod market;
pub mod market_view;
pub mod needs;
pub mod stream_health;
pub mod text;
pub mod timeframe;
pub mod trace_export;
pub mod warm_start;
pub mod write_stats;
