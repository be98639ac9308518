//! The cache side: checking what plugins ask to write, and writing it to memcached.

mod entry;
mod writer;

pub use entry::{check_key_prefix, validate, ValidEntry, HOST_PREFIX};
pub use writer::{CacheWriter, WriteReport};
