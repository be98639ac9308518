//! What goes to memcached, as every stage sees it: the keys the host reserves, the rules every
//! key follows, an entry ready for the wire and the writer's totals.

use anyhow::{bail, Result};
use serde::Serialize;

/// Keys under this prefix are written by the host alone (e.g. `pulse:status`).
pub const HOST_PREFIX: &str = "pulse:";

/// memcached's longest key, in bytes.
const MAX_KEY_BYTES: usize = 250;

/// The key the host writes its status to.
pub const STATUS_KEY: &str = pulse_keys::STATUS;

/// The largest relative TTL memcached accepts, in seconds; longer ones are read as absolute
/// times.
pub const MAX_TTL_SECS: u32 = 30 * 24 * 3600;

/// An entry that passed every check, ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEntry {
    /// The memcached key.
    pub key: String,
    /// The value's bytes, exactly as readers will get them.
    pub value: Vec<u8>,
    /// Seconds to live.
    pub ttl: u32,
}

/// What one aggregator's entries are checked against.
#[derive(Debug, Clone)]
pub struct EntryRules<'a> {
    /// The writing plugin's name, for messages.
    pub owner: &'a str,
    /// Prefixes it declared (and was granted).
    pub key_prefixes: &'a [String],
    /// Keys it may write as plain text.
    pub text_keys: &'a [String],
    /// TTL of entries that name none.
    pub default_ttl: u32,
    /// Shortest TTL allowed.
    pub min_ttl: u32,
    /// Longest TTL allowed.
    pub max_ttl: u32,
    /// Largest value allowed, in bytes.
    pub max_value_bytes: usize,
}

/// Checks a key against memcached's rules, kept to what every client can read: 1-250 bytes
/// of printable ASCII without spaces.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        bail!("key must be 1-{MAX_KEY_BYTES} bytes, it has {}", key.len());
    }
    if let Some(c) = key.chars().find(|c| !c.is_ascii_graphic()) {
        bail!("key {key:?} contains {c:?}; keys must be printable ASCII without whitespace");
    }
    Ok(())
}

/// Checks a declared key prefix: a valid key start, outside the host's own namespace.
pub fn check_key_prefix(prefix: &str) -> Result<()> {
    check_key(prefix)?;
    if prefix.starts_with(HOST_PREFIX) || HOST_PREFIX.starts_with(prefix) {
        bail!("keys under {HOST_PREFIX:?} belong to the host");
    }
    Ok(())
}

/// Totals since start, published in `pulse:status`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WriterStats {
    /// Entries stored.
    pub keys_written: u64,
    /// Value bytes stored.
    pub bytes_written: u64,
    /// Failed entries by kind: `server_down`, `timeout`, `io`, `server_error`, `fenced` (not
    /// sent once a leader's lease was no longer proven), `other`.
    pub errors: std::collections::BTreeMap<&'static str, u64>,
    /// Times a server came back after being down.
    pub reconnects: u64,
    /// Duration of the last cycle's write, in milliseconds.
    pub last_write_ms: f64,
    /// Each server and whether it is up.
    pub servers: Vec<ServerState>,
}

/// One server in [`WriterStats`].
#[derive(Debug, Clone, Serialize)]
pub struct ServerState {
    /// `host:port`.
    pub addr: String,
    /// False while the server is skipped and probed.
    pub up: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_prefix_is_reserved() {
        assert!(check_key_prefix("pulse:").is_err());
        assert!(check_key_prefix("pul").is_err());
        assert!(check_key_prefix("market:").is_ok());
        assert!(STATUS_KEY.starts_with(HOST_PREFIX));
    }
}
