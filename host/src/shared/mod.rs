//! The leaf of the module graph: plain data and small rules every stage shares, importing
//! nothing else of the crate. The stages talk to each other only through these types.

pub mod call;
pub mod candle;
pub mod clock;
pub mod columns;
pub mod comparison;
pub mod contract;
pub mod entry;
pub mod files;
pub mod flaps;
pub mod identity;
pub mod leadership;
pub mod log_throttle;
pub mod market;
pub mod market_view;
pub mod needs;
pub mod text;
pub mod timeframe;
pub mod write_stats;
