//! The candle columns a plugin reads (contract 0.3.0's `candle-columns`), as the host keys
//! markets by them and keeps them per time frame.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use super::contract::CandleColumns;
use super::timeframe;

/// The columns of a candle request, ordered and hashed by their bits so that needs can key a
/// map (the contract's flags type is neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns(pub CandleColumns);

/// Per time frame (indexed as [`timeframe::TIMEFRAMES`]), the columns any plugin reads.
pub type ColumnsWanted = [Columns; timeframe::TIMEFRAMES.len()];

impl Default for Columns {
    /// Every column, as a request that names none of its own is handed.
    fn default() -> Self {
        Self::all()
    }
}

impl Columns {
    /// Every column, as a 0.2.0 plugin is handed.
    pub fn all() -> Self {
        Self(CandleColumns::all())
    }

    /// Whether `column` is among them.
    pub fn has(self, column: CandleColumns) -> bool {
        self.0.contains(column)
    }

    /// Whether every one of `other` is among them.
    pub fn covers(self, other: Columns) -> bool {
        self.0.contains(other.0)
    }

    /// These and `other`'s.
    pub fn and(self, other: Columns) -> Self {
        Self(self.0 | other.0)
    }

    /// Their names as the contract spells them, in its order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (CandleColumns::START_MS, "start-ms"),
            (CandleColumns::OPEN, "open"),
            (CandleColumns::HIGH, "high"),
            (CandleColumns::LOW, "low"),
            (CandleColumns::CLOSE, "close"),
            (CandleColumns::VOLUME, "volume"),
            (CandleColumns::TURNOVER, "turnover"),
        ]
        .into_iter()
        .filter(|&(column, _)| self.has(column))
        .map(|(_, name)| name)
        .collect()
    }
}

impl Ord for Columns {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.as_array().cmp(&other.0.as_array())
    }
}

impl PartialOrd for Columns {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Columns {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_array().hash(state);
    }
}
