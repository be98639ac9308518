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

/// One symbol's candles of one time frame, oldest first. Every column the plugin asked for
/// (`CandleRequest::columns`) has the same length; the others are empty.
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
    /// Number of candles, the forming one included, as the columns asked for hold them (0 when
    /// the request named no column).
    pub fn len(&self) -> usize {
        let prices = [self.open, self.high, self.low, self.close, self.volume, self.turnover];
        prices
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(0)
            .max(self.start_ms.len())
    }

    /// True when there is no candle.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The closed candles only: the series without its forming last candle, if it has one.
    pub fn closed(&self) -> CandleSeries<'a> {
        if !self.forming {
            return *self;
        }
        let n = self.len().saturating_sub(1);
        let first = |column: &'a [f64]| &column[..n.min(column.len())];
        CandleSeries {
            start_ms: &self.start_ms[..n.min(self.start_ms.len())],
            open: first(self.open),
            high: first(self.high),
            low: first(self.low),
            close: first(self.close),
            volume: first(self.volume),
            turnover: first(self.turnover),
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
        self.market.symbols.ends.len()
    }

    /// True when the snapshot holds no symbol.
    pub fn is_empty(&self) -> bool {
        self.market.symbols.ends.is_empty()
    }

    /// The name of symbol `i` (e.g. `BTCUSDT`); empty past the last symbol. The host hands the
    /// names over as one buffer, and this reads one without copying it.
    pub fn symbol(&self, i: usize) -> &str {
        let names = &self.market.symbols;
        let start = match i {
            0 => 0,
            _ => names.ends.get(i - 1).map_or(usize::MAX, |&end| end as usize),
        };
        let end = names.ends.get(i).map_or(0, |&end| end as usize);
        names.text.get(start..end).unwrap_or_default()
    }

    /// Every symbol's name, in the market's order.
    pub fn symbols(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.symbol(i))
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
    pub fn candles<'a>(&'a self, timeframe: Timeframe, i: usize) -> CandleSeries<'a> {
        let Some(k) = self.market.candles.iter().position(|c| c.timeframe == timeframe) else {
            return CandleSeries::default();
        };
        let c = &self.market.candles[k];
        let offsets = &self.candle_offsets[k];
        let total = offsets.last().copied().unwrap_or(0);
        let range = range(offsets, i, total);
        // A column the plugin did not ask for comes empty, and stays so.
        let part = |column: &'a [f64]| {
            if column.len() == total {
                &column[range.clone()]
            } else {
                &[]
            }
        };
        let mut series = CandleSeries {
            start_ms: if c.start_ms.len() == total {
                &c.start_ms[range.clone()]
            } else {
                &[]
            },
            open: part(&c.open),
            high: part(&c.high),
            low: part(&c.low),
            close: part(&c.close),
            volume: part(&c.volume),
            turnover: part(&c.turnover),
            forming: false,
        };
        // Forming only when some column holds the candle.
        series.forming = !series.is_empty() && c.forming.get(i).copied().unwrap_or(false);
        series
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
