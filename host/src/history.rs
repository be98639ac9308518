//! The rolling per-symbol history that plugins read; plugins keep no state of their own.

use std::collections::{HashMap, VecDeque};

use crate::shared::contract::{History as HistoryRecord, Market};
use crate::shared::market::{Sample, Snapshot};

/// The last `capacity` samples of every symbol in the latest snapshot.
///
/// A symbol that leaves the snapshot loses its history; if it comes back, it starts again.
#[derive(Debug, Default)]
pub struct History {
    capacity: usize,
    series: HashMap<String, VecDeque<Sample>>,
}

impl History {
    /// Sets how many samples per symbol are kept (the deepest plugin's need).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        for series in self.series.values_mut() {
            while series.len() > capacity {
                series.pop_front();
            }
        }
    }

    /// Every symbol's samples, oldest first, for a saved state.
    pub fn saved(&self) -> Vec<(String, Vec<Sample>)> {
        self.series
            .iter()
            .map(|(symbol, series)| (symbol.clone(), series.iter().copied().collect()))
            .collect()
    }

    /// Takes samples back from a saved state; a series with a sample that is not finite, or
    /// out of time order, is left out. Returns how many series were left out.
    pub fn restore(&mut self, saved: Vec<(String, Vec<Sample>)>) -> usize {
        let mut left_out = 0;
        for (symbol, samples) in saved {
            let ordered = samples.windows(2).all(|w| w[0].timestamp_ms < w[1].timestamp_ms);
            if ordered && samples.iter().all(Sample::is_valid) {
                self.series.insert(symbol, samples.into());
            } else {
                left_out += 1;
            }
        }
        left_out
    }

    /// Appends the snapshot's samples and forgets symbols that are no longer in it.
    pub fn record(&mut self, snapshot: &Snapshot) {
        if self.capacity == 0 {
            self.series.clear();
            return;
        }
        let mut next = HashMap::with_capacity(snapshot.tickers.len());
        for ticker in &snapshot.tickers {
            let mut series = self
                .series
                .remove(&ticker.symbol)
                .unwrap_or_else(|| VecDeque::with_capacity(self.capacity));
            if series.len() == self.capacity {
                series.pop_front();
            }
            series.push_back(Sample {
                price: ticker.price,
                volume_24h: ticker.volume_24h,
                timestamp_ms: snapshot.timestamp_ms,
            });
            next.insert(ticker.symbol.clone(), series);
        }
        self.series = next;
    }

    /// `base` (a market without history) with up to `depth` samples of each of its symbols.
    pub fn market(&self, base: &Market, depth: usize) -> Market {
        Market {
            history: self.columns(base.symbols.iter().map(String::as_str), depth),
            ..base.clone()
        }
    }

    /// The last `depth` samples (or fewer) of each symbol, in the given order, column-wise as
    /// the contract's `history` record holds them.
    pub fn columns<'a>(&self, symbols: impl ExactSizeIterator<Item = &'a str>, depth: usize) -> HistoryRecord {
        let mut columns = HistoryRecord {
            lengths: Vec::with_capacity(symbols.len()),
            price: Vec::new(),
            volume_24h: Vec::new(),
            timestamp_ms: Vec::new(),
        };
        if depth == 0 {
            columns.lengths.resize(symbols.len(), 0);
            return columns;
        }
        for symbol in symbols {
            let series = self.series.get(symbol);
            let len = series.map_or(0, |s| s.len().min(depth));
            columns.lengths.push(len as u32);
            for sample in series.into_iter().flat_map(|s| s.range(s.len() - len..)) {
                columns.price.push(sample.price);
                columns.volume_24h.push(sample.volume_24h);
                columns.timestamp_ms.push(sample.timestamp_ms);
            }
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::market::Ticker;

    fn snapshot(ts: i64, prices: &[(&str, f64)]) -> Snapshot {
        Snapshot {
            candles: Vec::new(),
            timestamp_ms: ts,
            tickers: prices
                .iter()
                .map(|&(s, p)| Ticker {
                    symbol: s.into(),
                    price: p,
                    change_24h: 0.0,
                    volume_24h: 1.0,
                    turnover_24h: p,
                    high_24h: p,
                    low_24h: p,
                    data_ms: None,
                })
                .collect(),
        }
    }

    #[test]
    fn keeps_the_last_samples_oldest_first_and_drops_departed_symbols() {
        let mut history = History::default();
        history.set_capacity(3);
        for t in 1..=5 {
            history.record(&snapshot(t, &[("A", t as f64), ("B", 10.0 * t as f64)]));
        }
        history.record(&snapshot(6, &[("A", 6.0), ("C", 1.0)]));
        let columns = history.columns(["A", "B", "C"].into_iter(), 2);
        assert_eq!(columns.lengths, [2, 0, 1]);
        assert_eq!(columns.price, [5.0, 6.0, 1.0]);
        assert_eq!(columns.timestamp_ms, [5, 6, 6]);
        let deep = history.columns(["A"].into_iter(), 10);
        assert_eq!(deep.price, [4.0, 5.0, 6.0]);
    }
}
