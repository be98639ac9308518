//! Typed views of the column-wise market snapshot: per symbol, its history and its candles.

use crate::{Market, Timeframe};

/// The cycle's market with per-symbol access to the flattened history and candles.
pub struct MarketView {
    market: Market,
    /// `offsets[i]..offsets[i + 1]` is symbol `i`'s range in the history columns.
    offsets: Vec<usize>,
    /// The same for each entry of `market.candles`, in its order.
    candle_offsets: Vec<Vec<usize>>,
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

/// One symbol's candles of one time frame, oldest first; every slice has the same length.
#[derive(Clone, Copy, Debug, Default)]
pub struct CandleSeries<'a> {
    /// Candle open times, milliseconds since the Unix epoch.
    pub start_ms: &'a [i64],
    /// Opening prices.
    pub open: &'a [f64],
    /// Highest prices.
    pub high: &'a [f64],
    /// Lowest prices.
    pub low: &'a [f64],
    /// Closing prices (the last price, for a forming candle).
    pub close: &'a [f64],
    /// Volume in base currency.
    pub volume: &'a [f64],
    /// Turnover in quote currency.
    pub turnover: &'a [f64],
    /// Whether the last candle is still forming.
    pub forming: bool,
}

impl<'a> CandleSeries<'a> {
    /// Number of candles, the forming one included.
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// True when there is no candle.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The closed candles only: the series without its forming last candle, if it has one.
    pub fn closed(&self) -> CandleSeries<'a> {
        if !self.forming {
            return *self;
        }
        let n = self.len().saturating_sub(1);
        CandleSeries {
            start_ms: &self.start_ms[..n],
            open: &self.open[..n],
            high: &self.high[..n],
            low: &self.low[..n],
            close: &self.close[..n],
            volume: &self.volume[..n],
            turnover: &self.turnover[..n],
            forming: false,
        }
    }
}

impl MarketView {
    /// Wraps the market handed over by the host.
    pub fn new(market: Market) -> Self {
        Self {
            offsets: offsets(&market.history.lengths),
            candle_offsets: market.candles.iter().map(|c| offsets(&c.lengths)).collect(),
            market,
        }
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
        let range = range(&self.offsets, i, h.price.len());
        Series {
            price: &h.price[range.clone()],
            volume_24h: &h.volume_24h[range.clone()],
            timestamp_ms: &h.timestamp_ms[range],
        }
    }

    /// Symbol `i`'s candles of `timeframe`; empty when the plugin did not ask for that time
    /// frame or the host has none for the symbol yet.
    pub fn candles(&self, timeframe: Timeframe, i: usize) -> CandleSeries<'_> {
        let Some(k) = self.market.candles.iter().position(|c| c.timeframe == timeframe) else {
            return CandleSeries::default();
        };
        let c = &self.market.candles[k];
        let columns = [&c.open, &c.high, &c.low, &c.close, &c.volume, &c.turnover];
        let shortest = columns.iter().map(|v| v.len()).min().unwrap_or(0).min(c.start_ms.len());
        let range = range(&self.candle_offsets[k], i, shortest);
        CandleSeries {
            start_ms: &c.start_ms[range.clone()],
            open: &c.open[range.clone()],
            high: &c.high[range.clone()],
            low: &c.low[range.clone()],
            close: &c.close[range.clone()],
            volume: &c.volume[range.clone()],
            turnover: &c.turnover[range.clone()],
            forming: !range.is_empty() && c.forming.get(i).copied().unwrap_or(false),
        }
    }
}

/// `[0, l0, l0 + l1, ...]`: where each symbol's run starts in a flattened column.
fn offsets(lengths: &[u32]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(lengths.len() + 1);
    let mut end = 0usize;
    offsets.push(end);
    for &len in lengths {
        end += len as usize;
        offsets.push(end);
    }
    offsets
}

/// Symbol `i`'s range in a column of `len` entries; empty when the host's columns disagree.
fn range(offsets: &[usize], i: usize, len: usize) -> std::ops::Range<usize> {
    match (offsets.get(i), offsets.get(i + 1)) {
        (Some(&start), Some(&end)) if end <= len => start..end,
        _ => 0..0,
    }
}

impl std::ops::Deref for MarketView {
    type Target = Market;

    fn deref(&self) -> &Market {
        &self.market
    }
}
