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
mod tests {
    use super::*;
    use crate::shared::contract::{Market, Timeframe};

    fn market() -> WidestMarket {
        let mut m1 = empty_candles(Timeframe::M1);
        // A: three closed candles and a forming one; B: two closed.
        m1.lengths = vec![4, 2];
        m1.forming = vec![true, false];
        m1.start_ms = vec![0, 60_000, 120_000, 180_000, 60_000, 120_000];
        m1.close = vec![1.0, 2.0, 3.0, 4.0, 10.0, 11.0];
        for column in [
            &mut m1.open,
            &mut m1.high,
            &mut m1.low,
            &mut m1.volume,
            &mut m1.turnover,
        ] {
            *column = m1.close.clone();
        }
        WidestMarket::from(Market {
            cycle: 7,
            timestamp_ms: 190_000,
            snapshot_age_ms: 0,
            source: "test".into(),
            symbols: vec!["A".into(), "B".into()],
            price: vec![4.0, 11.0],
            change_24h: vec![0.0; 2],
            volume_24h: vec![0.0; 2],
            turnover_24h: vec![0.0; 2],
            high_24h: vec![0.0; 2],
            low_24h: vec![0.0; 2],
            history: History {
                lengths: vec![3, 1],
                price: vec![1.0, 2.0, 3.0, 9.0],
                volume_24h: vec![0.0; 4],
                timestamp_ms: vec![1, 2, 3, 3],
            },
            candles: vec![m1],
        })
    }

    /// Every column of `depth` closed candles of `timeframe` for the first `top` symbols.
    fn need(timeframe: Timeframe, depth: u32, top: u32) -> CandleNeed {
        CandleNeed {
            timeframe: timeframe::index(timeframe),
            depth,
            top,
            columns: Columns::all(),
        }
    }

    /// What `market()` holds: 3 samples, 3 closed one-minute candles.
    fn holds() -> Needs {
        Needs {
            history_depth: 3,
            candles: vec![need(Timeframe::M1, 3, 0)],
        }
    }

    #[test]
    fn cuts_history_and_candles_to_what_was_asked_keeping_the_forming_candle() {
        let needs = Needs {
            history_depth: 2,
            candles: vec![need(Timeframe::H1, 5, 0), need(Timeframe::M1, 2, 0)],
        };
        let cut = needs.cut(&market(), &holds());
        let view = cut.view();
        assert_eq!(view.history.lengths, [2, 1]);
        assert_eq!(view.history.price, [2.0, 3.0, 9.0]);
        let [h1, m1] = &view.candles[..] else {
            panic!("{:?}", view.candles.len())
        };
        assert_eq!(
            (h1.timeframe, h1.lengths, h1.forming),
            (Timeframe::H1, &[0, 0][..], &[false, false][..])
        );
        assert!(h1.close.is_empty());
        assert_eq!(m1.lengths, [3, 2]);
        assert_eq!(m1.forming, [true, false]);
        assert_eq!(m1.close, [2.0, 3.0, 4.0, 10.0, 11.0]);
        assert_eq!(m1.start_ms, [60_000, 120_000, 180_000, 60_000, 120_000]);
        assert_eq!(m1.turnover, m1.close);
        assert_eq!((view.cycle, view.symbols.len()), (7, 2));
        // The first symbol only: the other keeps its place with no candles.
        let top = Needs {
            history_depth: 0,
            candles: vec![need(Timeframe::M1, 1, 1)],
        };
        let cut = top.cut(&market(), &holds());
        let m1 = &cut.view().candles[0];
        assert_eq!(
            (m1.lengths, m1.forming, m1.close),
            (&[2, 0][..], &[true, false][..], &[3.0, 4.0][..])
        );
    }

    #[test]
    fn what_the_widest_market_holds_at_the_depth_asked_is_borrowed_not_copied() {
        let widest = market();
        let all = holds().cut(&widest, &holds());
        let view = all.view();
        assert_eq!(view.history.price.as_ptr(), widest.market.history.price.as_ptr());
        assert_eq!(view.candles[0].close.as_ptr(), widest.candles[0].close.as_ptr());
        // The first symbol's candles, a prefix of the widest market's columns.
        let top = Needs {
            history_depth: 3,
            candles: vec![need(Timeframe::M1, 3, 1)],
        };
        let cut = top.cut(&widest, &holds());
        let m1 = &cut.view().candles[0];
        assert_eq!(m1.close.as_ptr(), widest.candles[0].close.as_ptr());
        assert_eq!((m1.lengths, m1.close), (&[4, 0][..], &[1.0, 2.0, 3.0, 4.0][..]));
    }

    #[test]
    fn only_the_columns_asked_for_are_handed_over_borrowed_or_cut() {
        let widest = market();
        let closes = Columns(CandleColumns::CLOSE | CandleColumns::START_MS);
        for depth in [3, 1] {
            let needs = Needs {
                history_depth: 3,
                candles: vec![CandleNeed {
                    columns: closes,
                    ..need(Timeframe::M1, depth, 0)
                }],
            };
            let cut = needs.cut(&widest, &holds());
            let m1 = &cut.view().candles[0];
            assert_eq!(m1.lengths.len(), 2, "depth {depth}");
            assert!(!m1.close.is_empty() && !m1.start_ms.is_empty(), "depth {depth}");
            for other in [m1.open, m1.high, m1.low, m1.volume, m1.turnover] {
                assert!(other.is_empty(), "depth {depth}: {m1:?}");
            }
        }
    }

    #[test]
    fn a_column_the_widest_market_does_not_hold_gets_no_candles_rather_than_a_gap() {
        let mut widest = market();
        // The widest market holds closes only (no serving plugin reads anything else).
        let c = std::sync::Arc::make_mut(&mut widest.candles[0]);
        for column in [&mut c.open, &mut c.high, &mut c.low, &mut c.volume, &mut c.turnover] {
            column.clear();
        }
        let mut holds = holds();
        holds.candles[0].columns = Columns(CandleColumns::CLOSE | CandleColumns::START_MS);
        for depth in [3, 1] {
            let volumes = Needs {
                history_depth: 0,
                candles: vec![CandleNeed {
                    columns: Columns(CandleColumns::VOLUME),
                    ..need(Timeframe::M1, depth, 0)
                }],
            };
            let cut = volumes.cut(&widest, &holds);
            let m1 = &cut.view().candles[0];
            assert_eq!((m1.lengths, m1.volume.len()), (&[0, 0][..], 0), "depth {depth}");
        }
    }
}
