//! The cache side: checking what plugins ask to write, deciding which server holds each key,
//! writing to memcached, and reading keys back (`pulse verify`).

mod get;
mod placement;
mod quiet;
mod server;
mod sink;
mod writer;

pub use get::{Item, ItemReader};
pub use placement::Placement;
pub use quiet::{item_flags, Fence};
pub use server::resolve;
#[cfg(test)]
pub use sink::MemorySink;
pub use sink::{JsonlSink, Sink};
pub use writer::CacheWriter;
