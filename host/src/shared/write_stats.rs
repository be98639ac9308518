//! What a sink reports of its writes: of one cycle's write ([`WriteReport`]), and since start
//! as `pulse:status` and `/metrics` show it ([`WriterStats`]: entries and bytes stored,
//! failures by kind, and each server's state, memcached's; none for a file).

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

/// What one cycle's write achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Entries the sink stored (an entry mirrored to three servers counts three times).
    pub written: usize,
    /// Entries that were not stored.
    pub failed: usize,
    /// Why the first failed entry failed.
    pub first_error: Option<String>,
}

impl WriteReport {
    /// Counts `count` entries not stored for a reason of `kind`, here and in the totals.
    pub fn fail(&mut self, stats: &mut WriterStats, kind: &'static str, count: usize, reason: impl FnOnce() -> String) {
        self.failed += count;
        *stats.errors.entry(kind).or_default() += count as u64;
        if self.first_error.is_none() {
            self.first_error = Some(reason());
        }
    }
}
