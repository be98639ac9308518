//! What a sink reports of its writes since start, as `pulse:status` and `/metrics` show it:
//! entries and bytes stored, failures by kind, and each server's state (memcached's; none for
//! a file).

use serde::Serialize;

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
