//! What a plugin asked to be handed each call, and the market cut to it.

use super::candle::CandleDemand;
use super::columns::{Columns, ColumnsWanted};
use super::contract::{CandleColumns, CandleRequest, Candles, History, PluginInfo};
use super::market_view::{CandlesPart, PluginMarket, WidestMarket};
use super::timeframe;

/// The history depth and candles a plugin asked for in `describe()`: plugins with equal needs
/// get the same market, built once per cycle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Needs {
    /// Samples of the cycle's own history per symbol.
    pub history_depth: u32,
    /// The candle requests, in the plugin's order.
    pub candles: Vec<CandleNeed>,
}

/// One candle request, as markets are built and keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CandleNeed {
    /// The time frame's index in [`timeframe::TIMEFRAMES`].
    pub timeframe: usize,
    /// Closed candles per symbol, at most.
    pub depth: u32,
    /// Only the first `top` symbols get candles; 0 for all.
    pub top: u32,
    /// The columns handed over; the others come empty.
    pub columns: Columns,
}

impl CandleNeed {
    /// What `request` asks for.
    pub fn of(request: &CandleRequest) -> Self {
        Self {
            timeframe: timeframe::index(request.timeframe),
            depth: request.depth,
            top: request.top,
            columns: Columns(request.columns),
        }
    }
}

impl Needs {
    /// What a market built for `demand` and `columns` with `history_depth` samples holds:
    /// every symbol's candles of each time frame wanted, as deep as wanted, in the columns
    /// wanted.
    pub fn held(history_depth: u32, demand: CandleDemand, columns: &ColumnsWanted) -> Self {
        let candles = demand
            .wanted()
            .map(|(timeframe, depth)| {
                let k = timeframe::index(timeframe);
                CandleNeed {
                    timeframe: k,
                    depth,
                    top: 0,
                    columns: columns[k],
                }
            })
            .collect();
        Self { history_depth, candles }
    }

    /// What `info` asks for.
    pub fn of(info: &PluginInfo) -> Self {
        Self {
            history_depth: info.history_depth,
            candles: info.candles.iter().map(CandleNeed::of).collect(),
        }
    }

    /// What `widest` (the cycle's market, holding what `holds` says: at least as much as any
    /// plugin needs) is for these needs: the last `history_depth` samples of each symbol, and
    /// for each candle request in order, the last `depth` closed candles of each symbol (of the
    /// first `top` only, unless `top` is 0) and its forming one. A time frame `widest` lacks is
    /// handed over with no candles, and so is one it holds without every column asked for. A
    /// time frame `widest` holds at the depth asked or less
    /// (it holds no more than its own depth) is borrowed from it; only smaller depths are
    /// copied.
    pub fn cut(&self, widest: &WidestMarket, holds: &Needs) -> PluginMarket {
        let history = (self.history_depth < holds.history_depth)
            .then(|| cut_history(&widest.market.history, self.history_depth as usize));
        let symbols = widest.market.symbols.len();
        let candles = self
            .candles
            .iter()
            .map(|need| {
                let (top, columns) = (need.top, need.columns);
                let timeframe = timeframe::TIMEFRAMES[need.timeframe];
                let index = widest.candles.iter().position(|c| c.timeframe == timeframe);
                let have = index.map(|i| &*widest.candles[i]);
                let held = holds.candles.iter().find(|held| held.timeframe == need.timeframe);
                // A column no serving plugin reads is not held: a trial call that needs it gets
                // no candles of that time frame, as for a time frame not held at all, rather
                // than candles with a column missing.
                let covered = held.is_some_and(|held| held.columns.covers(need.columns));
                let borrowed = covered && held.is_some_and(|held| held.depth <= need.depth);
                let part = match index {
                    Some(index) if borrowed && (top == 0 || top as usize >= symbols) => CandlesPart::Whole(index),
                    Some(index) if borrowed => prefix(&widest.candles[index], index, top as usize),
                    _ => CandlesPart::Cut(cut_candles(have.filter(|_| covered), need, symbols)),
                };
                (part, columns)
            })
            .collect();
        PluginMarket {
            widest: widest.clone(),
            history,
            candles,
        }
    }
}

/// The candles of the first `top` symbols of `candles` (at `index` of the widest market): a
/// prefix of its columns; the other symbols keep their places with none.
fn prefix(candles: &Candles, index: usize, top: usize) -> CandlesPart {
    let mut lengths = candles.lengths[..top].to_vec();
    lengths.resize(candles.lengths.len(), 0);
    let mut forming = candles.forming[..top].to_vec();
    forming.resize(candles.forming.len(), false);
    CandlesPart::Prefix {
        index,
        candles: lengths.iter().map(|&l| l as usize).sum(),
        lengths,
        forming,
    }
}

/// A history record with no samples.
pub fn empty_history() -> History {
    History {
        lengths: Vec::new(),
        price: Vec::new(),
        volume_24h: Vec::new(),
        timestamp_ms: Vec::new(),
    }
}

/// A candles record of `timeframe` with no candles.
pub fn empty_candles(timeframe: super::contract::Timeframe) -> Candles {
    Candles {
        timeframe,
        lengths: Vec::new(),
        forming: Vec::new(),
        start_ms: Vec::new(),
        open: Vec::new(),
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        volume: Vec::new(),
        turnover: Vec::new(),
    }
}

/// At most the last `depth` samples of each symbol.
fn cut_history(history: &History, depth: usize) -> History {
    let mut cut = History {
        lengths: Vec::with_capacity(history.lengths.len()),
        ..empty_history()
    };
    let mut start = 0usize;
    for &len in &history.lengths {
        let len = len as usize;
        let keep = len.min(depth);
        let range = start + len - keep..start + len;
        cut.lengths.push(keep as u32);
        cut.price.extend_from_slice(&history.price[range.clone()]);
        cut.volume_24h.extend_from_slice(&history.volume_24h[range.clone()]);
        cut.timestamp_ms.extend_from_slice(&history.timestamp_ms[range]);
        start += len;
    }
    cut
}

/// At most `need.depth` closed candles of each symbol, and its forming one, in the columns it
/// names; every symbol of the market has an entry (with no candles where `have` has none).
fn cut_candles(have: Option<&Candles>, need: &CandleNeed, symbols: usize) -> Candles {
    let mut cut = Candles {
        lengths: Vec::with_capacity(symbols),
        forming: Vec::with_capacity(symbols),
        ..empty_candles(timeframe::TIMEFRAMES[need.timeframe])
    };
    let Some(have) = have else {
        cut.lengths.resize(symbols, 0);
        cut.forming.resize(symbols, false);
        return cut;
    };
    let top = if need.top == 0 { usize::MAX } else { need.top as usize };
    // What each symbol keeps (its closed candles cut to the depth, and its forming one), found
    // first so that every column is allocated once at its final size.
    let kept: Vec<(usize, bool)> = have
        .lengths
        .iter()
        .zip(&have.forming)
        .enumerate()
        .map(|(i, (&len, &forming))| {
            let len = len as usize;
            if i >= top || len == 0 {
                return (0, false);
            }
            let closed = len - usize::from(forming);
            (closed.min(need.depth as usize) + usize::from(forming), forming)
        })
        .collect();
    let total = kept.iter().map(|(keep, _)| keep).sum();
    // A column the widest market lacks (a trial call of a plugin that reads more than the
    // serving ones) stays empty.
    let held = have.lengths.iter().map(|&l| l as usize).sum::<usize>();
    let wanted = |column, values: usize| need.columns.has(column) && values == held;
    let mut prices: Vec<(&mut Vec<f64>, &Vec<f64>)> = [
        (CandleColumns::OPEN, &mut cut.open, &have.open),
        (CandleColumns::HIGH, &mut cut.high, &have.high),
        (CandleColumns::LOW, &mut cut.low, &have.low),
        (CandleColumns::CLOSE, &mut cut.close, &have.close),
        (CandleColumns::VOLUME, &mut cut.volume, &have.volume),
        (CandleColumns::TURNOVER, &mut cut.turnover, &have.turnover),
    ]
    .into_iter()
    .filter(|&(column, _, from)| wanted(column, from.len()))
    .map(|(_, to, from)| (to, from))
    .collect();
    prices.iter_mut().for_each(|(to, _)| to.reserve_exact(total));
    let starts = wanted(CandleColumns::START_MS, have.start_ms.len());
    if starts {
        cut.start_ms.reserve_exact(total);
    }
    let mut end = 0usize;
    for (&len, (keep, forming)) in have.lengths.iter().zip(kept) {
        end += len as usize;
        let range = end - keep..end;
        cut.lengths.push(keep as u32);
        cut.forming.push(forming);
        if starts {
            cut.start_ms.extend_from_slice(&have.start_ms[range.clone()]);
        }
        for (to, from) in &mut prices {
            to.extend_from_slice(&from[range.clone()]);
        }
    }
    cut
}

#[cfg(test)]
mod tests;
