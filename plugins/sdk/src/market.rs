//! Typed views of the column-wise market snapshot.

use crate::Market;

/// The cycle's market with per-symbol access to the flattened history.
pub struct MarketView {
    market: Market,
    /// `offsets[i]..offsets[i + 1]` is symbol `i`'s range in the history columns.
    offsets: Vec<usize>,
}

/// One symbol's rolling history, oldest sample first.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    /// Last traded price at each sample.
    pub price: &'a [f64],
    /// 24 h base volume at each sample.
    pub volume_24h: &'a [f64],
    /// Sample times, milliseconds since the Unix epoch.
    pub timestamp_ms: &'a [i64],
}

impl MarketView {
    /// Wraps the market handed over by the host.
    pub fn new(market: Market) -> Self {
        let mut offsets = Vec::with_capacity(market.history.lengths.len() + 1);
        let mut end = 0usize;
        offsets.push(end);
        for &len in &market.history.lengths {
            end += len as usize;
            offsets.push(end);
        }
        Self { market, offsets }
    }

    /// Number of symbols in this cycle.
    pub fn len(&self) -> usize {
        self.market.symbols.len()
    }

    /// True when the snapshot holds no symbol.
    pub fn is_empty(&self) -> bool {
        self.market.symbols.is_empty()
    }

    /// The history of symbol `i`; empty when the host passed none for it.
    pub fn history(&self, i: usize) -> Series<'_> {
        let h = &self.market.history;
        let range = match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&start), Some(&end)) if end <= h.price.len() => start..end,
            _ => 0..0,
        };
        Series {
            price: &h.price[range.clone()],
            volume_24h: &h.volume_24h[range.clone()],
            timestamp_ms: &h.timestamp_ms[range],
        }
    }
}

impl std::ops::Deref for MarketView {
    type Target = Market;

    fn deref(&self) -> &Market {
        &self.market
    }
}
