//! The cache side: checking what plugins ask to write, deciding which server holds each key,
//! and writing to memcached.

mod entry;
mod placement;
mod quiet;
mod server;
mod sink;
mod writer;

pub use entry::validate;
pub use placement::Placement;
pub use quiet::Fence;
#[cfg(test)]
pub use sink::MemorySink;
pub use sink::{JsonlSink, Sink};
pub use writer::{CacheWriter, WriteReport};
