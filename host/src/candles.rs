//! The candle store: every symbol's candles per time frame, as deep as the plugins want them.
//!
//! Candles come from the source (backfills, refetches and forming candles it yields with a
//! snapshot), or from a saved state at start-up; between those, the forming candle follows each
//! snapshot's last price. The store keeps what it has even across a gap, so a backfill that
//! arrives later can fill it, but hands plugins only the newest consecutive run: never a
//! series stitched across missing candles. What it hands over it keeps column-wise across
//! cycles (`columns`), so a cycle writes only what moved: mostly each symbol's forming candle.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::shared::candle::{Candle, CandleDemand, CandleRows};
use crate::shared::columns::ColumnsWanted;
use crate::shared::contract::Market;
use crate::shared::market::{Rejections, Snapshot, Ticker};
use crate::shared::market_view::WidestMarket;
use crate::shared::timeframe::{self, TIMEFRAMES};

mod columns;
mod series;
mod writes;

use columns::TimeframeBuffers;
use series::{merge, trade, trim};
use writes::built;
use writes::{Shape, StampedSeries};

/// One symbol's candles.
#[derive(Debug)]
struct SymbolCandles {
    /// The symbol.
    symbol: String,
    /// Its candles of every time frame, oldest first, indexed as [`TIMEFRAMES`].
    candles: [VecDeque<Candle>; TIMEFRAMES.len()],
    /// Per time frame, the stamp of their last change of shape (a candle opened, inserted or
    /// forgotten): what tells the handed candles which symbols to write again.
    stamps: [u64; TIMEFRAMES.len()],
}

/// Every symbol's candles, kept to the depth plugins want.
#[derive(Debug, Default)]
pub struct CandleStore {
    /// Closed candles kept per time frame (the forming one comes on top).
    demand: CandleDemand,
    /// The columns handed over per time frame; the others are left empty.
    columns: ColumnsWanted,
    /// The candles of each symbol of the latest snapshot, in its order (then any restored).
    kept: Vec<SymbolCandles>,
    /// Where each symbol is in `kept`.
    index: HashMap<String, usize>,
    /// The last stamp given; stamps are never given twice.
    clock: u64,
    /// Per time frame, the candles handed to plugins, kept to be updated in place.
    handed: [TimeframeBuffers; TIMEFRAMES.len()],
}

impl CandleStore {
    /// Sets how many closed candles of each time frame are kept; a time frame nobody wants is
    /// dropped at once, the others are trimmed at the next snapshot.
    pub fn set_demand(&mut self, demand: CandleDemand) {
        // Told every cycle; the series are only walked when the demand changed.
        if demand == self.demand {
            return;
        }
        self.demand = demand;
        for (k, handed) in self.handed.iter_mut().enumerate() {
            if demand.0[k] == 0 {
                handed.clear();
                self.kept.iter_mut().for_each(|kept| kept.candles[k].clear());
            }
        }
    }

    /// What is kept: the demand last set.
    pub fn demand(&self) -> CandleDemand {
        self.demand
    }

    /// Sets the columns handed over per time frame (every column until told): only those are
    /// written, kept and copied into plugins.
    pub fn set_columns(&mut self, columns: ColumnsWanted) {
        self.columns = columns;
    }

    /// The columns handed over per time frame.
    pub fn columns(&self) -> &ColumnsWanted {
        &self.columns
    }

    /// Every symbol's candles of every time frame kept, oldest first, for a saved state.
    pub fn saved(&self) -> Vec<CandleRows> {
        let mut rows = Vec::new();
        for kept in &self.kept {
            for (k, series) in kept.candles.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
                rows.push(CandleRows {
                    symbol: kept.symbol.clone(),
                    timeframe: TIMEFRAMES[k],
                    candles: series.iter().copied().collect(),
                });
            }
        }
        rows
    }

    /// Takes candles back from a saved state, checked as a source's are (`now_ms` tells
    /// candles from the future); returns the ones refused, counted by reason.
    pub fn restore(&mut self, saved: &[CandleRows], now_ms: i64) -> Rejections {
        let mut rejections = Rejections::new();
        for rows in saved {
            let at = match self.index.get(&rows.symbol) {
                Some(&at) => at,
                None => {
                    self.index.insert(rows.symbol.clone(), self.kept.len());
                    let kept = self.fresh(&rows.symbol);
                    self.kept.push(kept);
                    self.kept.len() - 1
                }
            };
            let k = timeframe::index(rows.timeframe);
            if merge(&mut self.kept[at].candles[k], rows, now_ms, &mut rejections) {
                self.kept[at].stamps[k] = next(&mut self.clock);
            }
        }
        rejections
    }

    /// Takes in a snapshot: the candles it carries, then its last prices into each forming
    /// candle (the ticker is at least as recent as any fetch); forgets symbols that are no
    /// longer in it, and candles from after its time (a replay that starts over). Returns the
    /// candles refused as invalid, counted by reason.
    pub fn record(&mut self, snapshot: &Snapshot) -> Rejections {
        let mut rejections = Rejections::new();
        if self.demand.wanted().next().is_none() {
            self.take_order(&[]);
            return rejections;
        }
        let now_ms = snapshot.timestamp_ms;
        self.take_order(&snapshot.tickers);
        for rows in &snapshot.candles {
            let k = timeframe::index(rows.timeframe);
            let (Some(&at), true) = (self.index.get(&rows.symbol), self.demand.0[k] > 0) else {
                continue;
            };
            if merge(&mut self.kept[at].candles[k], rows, now_ms, &mut rejections) {
                self.kept[at].stamps[k] = next(&mut self.clock);
            }
        }
        for (timeframe, depth) in self.demand.wanted() {
            let k = timeframe::index(timeframe);
            for (kept, ticker) in self.kept.iter_mut().zip(&snapshot.tickers) {
                let series = &mut kept.candles[k];
                let trimmed = trim(series, timeframe, depth, now_ms);
                if trade(series, timeframe, ticker.price, now_ms) | trimmed {
                    kept.stamps[k] = next(&mut self.clock);
                }
            }
        }
        rejections
    }

    /// Puts the symbols in the order of `tickers`: those no longer there are forgotten, new
    /// ones start with no candles. Costs a comparison when the order holds, and a lookup per
    /// symbol (no copy of a name or of candles) when it changed.
    fn take_order(&mut self, tickers: &[Ticker]) {
        let same = self.kept.len() == tickers.len() && self.kept.iter().zip(tickers).all(|(k, t)| k.symbol == t.symbol);
        if same {
            return;
        }
        let mut old: Vec<Option<SymbolCandles>> = self.kept.drain(..).map(Some).collect();
        for ticker in tickers {
            // A symbol twice: its candles go with the first.
            let kept = self.index.get(&ticker.symbol).and_then(|&at| old[at].take());
            let kept = kept.unwrap_or_else(|| self.fresh(&ticker.symbol));
            self.kept.push(kept);
        }
        for gone in old.into_iter().flatten() {
            self.index.remove(&gone.symbol);
        }
        // Backwards, so that a symbol twice is found at its first place.
        for (at, kept) in self.kept.iter().enumerate().rev() {
            match self.index.get_mut(&kept.symbol) {
                Some(place) => *place = at,
                None => {
                    self.index.insert(kept.symbol.clone(), at);
                }
            }
        }
    }

    /// A symbol with no candles yet, stamped anew.
    fn fresh(&mut self, symbol: &str) -> SymbolCandles {
        SymbolCandles {
            symbol: symbol.to_string(),
            candles: Default::default(),
            stamps: std::array::from_fn(|_| next(&mut self.clock)),
        }
    }

    /// `base` (a market without candles) with, for every time frame wanted, each of its
    /// symbols' candles: the closed ones kept and the forming one, told by `base`'s time.
    /// The candles are the store's own, shared: when `base` has the symbols of the last
    /// snapshot in its order, they are updated in place from one cycle to the next.
    pub fn market(&mut self, base: Market) -> WidestMarket {
        let in_order =
            base.symbols.len() == self.kept.len() && base.symbols.iter().zip(&self.kept).all(|(s, k)| *s == k.symbol);
        let candles = self
            .demand
            .wanted()
            .map(|(timeframe, depth)| {
                let k = timeframe::index(timeframe);
                let shape = Shape::at(timeframe, depth, self.columns[k], base.timestamp_ms);
                if in_order {
                    let series: Vec<StampedSeries> = self.kept.iter().map(|s| (&s.candles[k], s.stamps[k])).collect();
                    self.handed[k].hand(&series, timeframe, shape)
                } else {
                    const NONE: &VecDeque<Candle> = &VecDeque::new();
                    let series: Vec<StampedSeries> = base
                        .symbols
                        .iter()
                        .map(|s| {
                            self.index
                                .get(s)
                                .map_or((NONE, 0), |&at| (&self.kept[at].candles[k], 0))
                        })
                        .collect();
                    Arc::new(built(&series, timeframe, shape))
                }
            })
            .collect();
        WidestMarket::new(base, candles)
    }
}

/// The next stamp of `clock`.
fn next(clock: &mut u64) -> u64 {
    *clock += 1;
    *clock
}

#[cfg(test)]
mod tests;
