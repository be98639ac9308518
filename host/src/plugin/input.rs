//! Turns the host's snapshot and history into the column-wise `market` record plugins get.

use std::time::Duration;

use super::bindings::{History as HistoryRecord, Market};
use crate::history::History;
use crate::market::{Snapshot, Ticker};

/// The snapshot as a `market` record, without history.
pub fn market(snapshot: &Snapshot, cycle: u64, source: &str, age: Duration) -> Market {
    let t = &snapshot.tickers;
    let column = |f: fn(&Ticker) -> f64| t.iter().map(f).collect::<Vec<f64>>();
    Market {
        cycle,
        timestamp_ms: snapshot.timestamp_ms,
        snapshot_age_ms: age.as_millis() as u64,
        source: source.to_string(),
        symbols: t.iter().map(|t| t.symbol.clone()).collect(),
        price: column(|t| t.price),
        change_24h: column(|t| t.change_24h),
        volume_24h: column(|t| t.volume_24h),
        turnover_24h: column(|t| t.turnover_24h),
        high_24h: column(|t| t.high_24h),
        low_24h: column(|t| t.low_24h),
        history: HistoryRecord {
            lengths: Vec::new(),
            price: Vec::new(),
            volume_24h: Vec::new(),
            timestamp_ms: Vec::new(),
        },
    }
}

/// `base` with up to `depth` samples of each symbol's history.
pub fn with_history(base: &Market, history: &History, depth: usize) -> Market {
    let columns = history.columns(base.symbols.iter().map(String::as_str), depth);
    Market {
        history: HistoryRecord {
            lengths: columns.lengths,
            price: columns.price,
            volume_24h: columns.volume_24h,
            timestamp_ms: columns.timestamp_ms,
        },
        ..base.clone()
    }
}
