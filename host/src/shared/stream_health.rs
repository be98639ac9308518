//! What a streaming source says of its streams each cycle, for `pulse:status`, `/metrics`,
//! `/healthz` and `/stream`: connections, symbols gap-free or in a gap and since when, and the
//! counts of gaps, resyncs, reconnects and messages. The source owns the facts; the status
//! parts only show them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// Why a symbol's data stopped being gap-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// Its connection closed (or failed to open), or the exchange said it would close it.
    Disconnect,
    /// Its connection stayed open but sent nothing, heartbeat answers included.
    Silence,
    /// A REST answer found a field the stream had not changed since, but that differed: a
    /// message was lost without a sign.
    Diverged,
    /// A closed candle's start jumped past a candle whose close never came.
    MissedCandle,
}

impl GapReason {
    /// Every reason: `/metrics` has each at zero before the first gap.
    pub const ALL: [GapReason; 4] = [Self::Disconnect, Self::Silence, Self::Diverged, Self::MissedCandle];

    /// Its name, as `/metrics` labels it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Disconnect => "disconnect",
            Self::Silence => "silence",
            Self::Diverged => "diverged",
            Self::MissedCandle => "missed_candle",
        }
    }
}

/// Totals since the source opened.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamCounts {
    /// Gaps, by reason (a symbol's gap counts once, by what began it).
    pub gaps: BTreeMap<GapReason, u64>,
    /// Symbols made gap-free again by a REST answer, after a gap or a divergence.
    pub resyncs: u64,
    /// Connections opened again after one closed or went silent.
    pub reconnects: u64,
    /// Connections replaced, their successor subscribed and delivering before they closed
    /// (before the exchange's maximum age, or when it said it would close them).
    pub rotations: u64,
    /// Messages read.
    pub messages: u64,
    /// Messages dropped, by reason (not a documented shape, a refused subscription, ...).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Ticker fields a REST answer corrected.
    pub corrected_fields: u64,
    /// Symbols left out of the last snapshot because their newest data was older than
    /// `max_age` (not a total: the last snapshot's).
    pub stale: u64,
}

/// One symbol's continuity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolContinuity {
    /// The symbol.
    pub symbol: String,
    /// Since when (exchange ms) its data is gap-free; `None` while it is in a gap.
    pub gap_free_since_ms: Option<i64>,
    /// When its newest data was sent (exchange ms).
    pub data_ms: i64,
}

/// A streaming source's state at one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamHealth {
    /// Connections open and answering.
    pub connections: u32,
    /// Symbols whose data is gap-free.
    pub symbols_live: u32,
    /// Symbols in a gap, waiting for a resync.
    pub symbols_in_gap: u32,
    /// Messages read per second since the last snapshot.
    pub messages_per_second: f64,
    /// The longest a message read since the last snapshot took from the exchange's send to its
    /// reading here, in ms (clocks apart included): how far behind the exchange the streams run.
    pub lag_ms: i64,
    /// Totals.
    #[serde(flatten)]
    pub counts: StreamCounts,
    /// Each symbol's continuity, by symbol (for `/stream`; left out of `pulse:status`).
    #[serde(skip)]
    pub symbols: Arc<Vec<SymbolContinuity>>,
}
