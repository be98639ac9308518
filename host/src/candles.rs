//! The candle store: every symbol's candles per time frame, as deep as the plugins want them.
//!
//! Candles come from the source (backfills, refetches and forming candles it yields with a
//! snapshot), or from a saved state at start-up; between those, the forming candle follows each
//! snapshot's last price. The store keeps what it has even across a gap, so a backfill that
//! arrives later can fill it, but hands plugins only the newest consecutive run: never a
//! series stitched across missing candles.

use std::collections::{HashMap, VecDeque};

use crate::shared::candle::{Candle, CandleDemand, CandleRows};
use crate::shared::contract::{Candles, Market, Timeframe};
use crate::shared::market::{Rejections, Snapshot};
use crate::shared::timeframe::{self, TIMEFRAMES};

mod series;

use series::{consecutive_run, merge, trade, trim};

/// One symbol's candles of every time frame, oldest first, indexed as [`TIMEFRAMES`].
type SymbolCandles = [VecDeque<Candle>; TIMEFRAMES.len()];

/// Every symbol's candles, kept to the depth plugins want.
#[derive(Debug, Default)]
pub struct CandleStore {
    /// Closed candles kept per time frame (the forming one comes on top).
    demand: CandleDemand,
    /// The candles of each symbol of the latest snapshot.
    series: HashMap<String, SymbolCandles>,
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
        for candles in self.series.values_mut() {
            for (k, series) in candles.iter_mut().enumerate() {
                if demand.0[k] == 0 {
                    series.clear();
                }
            }
        }
    }

    /// What is kept: the demand last set.
    pub fn demand(&self) -> CandleDemand {
        self.demand
    }

    /// Every symbol's candles of every time frame kept, oldest first, for a saved state.
    pub fn saved(&self) -> Vec<CandleRows> {
        let mut rows = Vec::new();
        for (symbol, candles) in &self.series {
            for (k, series) in candles.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
                rows.push(CandleRows {
                    symbol: symbol.clone(),
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
            let candles = self.series.entry(rows.symbol.clone()).or_default();
            merge(
                &mut candles[timeframe::index(rows.timeframe)],
                rows,
                now_ms,
                &mut rejections,
            );
        }
        rejections
    }

    /// Takes in a snapshot: the candles it carries, then its last prices into each forming
    /// candle (the ticker is at least as recent as any fetch); forgets symbols that are no
    /// longer in it, and candles from after its time (a replay that starts over). Returns the
    /// candles refused as invalid, counted by reason.
    pub fn record(&mut self, snapshot: &Snapshot) -> Rejections {
        let mut rejections = Rejections::new();
        let mut next = HashMap::with_capacity(snapshot.tickers.len());
        if self.demand.wanted().next().is_none() {
            self.series.clear();
            return rejections;
        }
        for ticker in &snapshot.tickers {
            let candles = self.series.remove(&ticker.symbol).unwrap_or_default();
            next.insert(ticker.symbol.clone(), candles);
        }
        for rows in &snapshot.candles {
            let k = timeframe::index(rows.timeframe);
            let (Some(candles), true) = (next.get_mut(&rows.symbol), self.demand.0[k] > 0) else {
                continue;
            };
            merge(&mut candles[k], rows, snapshot.timestamp_ms, &mut rejections);
        }
        for ticker in &snapshot.tickers {
            let candles = next.get_mut(&ticker.symbol).expect("inserted above");
            for (timeframe, depth) in self.demand.wanted() {
                let k = timeframe::index(timeframe);
                trim(&mut candles[k], timeframe, depth, snapshot.timestamp_ms);
                trade(&mut candles[k], timeframe, ticker.price, snapshot.timestamp_ms);
            }
        }
        self.series = next;
        rejections
    }

    /// `base` (a market without candles) with, for every time frame wanted, each of its
    /// symbols' candles: the closed ones kept and the forming one, told by `base`'s time.
    pub fn market(&self, base: Market) -> Market {
        let candles = self
            .demand
            .wanted()
            .map(|(timeframe, _)| self.columns(&base.symbols, timeframe, base.timestamp_ms))
            .collect();
        Market { candles, ..base }
    }

    /// One time frame's candles of `symbols`, column-wise, in one pass over the store: each
    /// symbol's run is found and copied while its candles are in cache. Columns are reserved
    /// at the most they can hold; pages never written are never touched.
    fn columns(&self, symbols: &[String], timeframe: Timeframe, now_ms: i64) -> Candles {
        let k = timeframe::index(timeframe);
        let forming_start = timeframe::candle_start(timeframe, now_ms);
        let depth = self.demand.depth(timeframe) as usize;
        let most = symbols.len() * (depth + 1);
        let mut c = Candles {
            lengths: Vec::with_capacity(symbols.len()),
            forming: Vec::with_capacity(symbols.len()),
            start_ms: Vec::with_capacity(most),
            open: Vec::with_capacity(most),
            high: Vec::with_capacity(most),
            low: Vec::with_capacity(most),
            close: Vec::with_capacity(most),
            volume: Vec::with_capacity(most),
            turnover: Vec::with_capacity(most),
            timeframe,
        };
        for symbol in symbols {
            let Some(series) = self.series.get(symbol).map(|s| &s[k]).filter(|s| !s.is_empty()) else {
                c.lengths.push(0);
                c.forming.push(false);
                continue;
            };
            // At most `depth` closed candles, and the forming one on top.
            let forming = series.back().is_some_and(|last| last.start_ms == forming_start);
            let run = consecutive_run(series, timeframe).min(depth + usize::from(forming));
            for candle in series.range(series.len() - run..) {
                c.start_ms.push(candle.start_ms);
                c.open.push(candle.open);
                c.high.push(candle.high);
                c.low.push(candle.low);
                c.close.push(candle.close);
                c.volume.push(candle.volume);
                c.turnover.push(candle.turnover);
            }
            c.lengths.push(run as u32);
            c.forming.push(forming && run > 0);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::market::Ticker;

    const MINUTE: i64 = 60_000;

    fn snapshot(ts: i64, price: f64, candles: Vec<CandleRows>) -> Snapshot {
        Snapshot {
            timestamp_ms: ts,
            tickers: vec![Ticker {
                symbol: "AUSDT".into(),
                price,
                change_24h: 0.0,
                volume_24h: 1.0,
                turnover_24h: price,
                high_24h: price,
                low_24h: price,
            }],
            candles,
        }
    }

    fn rows(starts_and_closes: &[(i64, f64)]) -> CandleRows {
        CandleRows {
            symbol: "AUSDT".into(),
            timeframe: Timeframe::M1,
            candles: starts_and_closes
                .iter()
                .map(|&(start, close)| Candle {
                    volume: 2.0,
                    ..Candle::opening(start, close)
                })
                .collect(),
        }
    }

    fn store(depth: u32) -> CandleStore {
        let mut store = CandleStore::default();
        let mut demand = CandleDemand::default();
        demand.want(Timeframe::M1, depth);
        store.set_demand(demand);
        store
    }

    /// The market of AUSDT and BUSDT at `now`, without candles.
    fn base(now: i64) -> Market {
        let mut both = snapshot(now, 1.0, vec![]);
        let mut b = both.tickers[0].clone();
        b.symbol = "BUSDT".into();
        both.tickers.push(b);
        both.to_market(1, "test", std::time::Duration::ZERO)
    }

    fn m1(store: &CandleStore, now: i64) -> Candles {
        store.market(base(now)).candles.remove(0)
    }

    #[test]
    fn at_most_the_depth_of_closed_candles_is_handed_over_forming_or_not() {
        let mut store = store(2);
        let closed = rows(&[(0, 1.0), (60_000, 2.0), (120_000, 3.0)]);
        store.record(&snapshot(180_500, 4.0, vec![closed]));
        let now = m1(&store, 180_500);
        assert_eq!(
            (&now.lengths[..], &now.start_ms[..]),
            (&[3, 0][..], &[60_000, 120_000, 180_000][..])
        );
        // A minute on, before the next snapshot: the candle of 180,000 is closed, and only the
        // last two closed ones are handed over.
        let later = m1(&store, 240_500);
        assert_eq!(
            (&later.lengths[..], &later.start_ms[..]),
            (&[2, 0][..], &[120_000, 180_000][..])
        );
        assert_eq!(later.forming, [false, false]);
    }

    #[test]
    fn backfill_then_trades_fill_the_forming_candle_and_open_the_next() {
        let mut store = store(3);
        let now = 10 * MINUTE + 5_000;
        let backfill = rows(&[
            (6 * MINUTE, 6.0),
            (7 * MINUTE, 7.0),
            (8 * MINUTE, 8.0),
            (9 * MINUTE, 9.0),
            (10 * MINUTE, 10.0),
        ]);
        assert!(store.record(&snapshot(now, 10.5, vec![backfill])).is_empty());
        let c = m1(&store, now);
        // Three closed candles and the forming one, as fetched but for its close, which the
        // ticker's last price moved on (and its high with it); its volume is the fetch's.
        assert_eq!((c.lengths.clone(), c.forming.clone()), (vec![4, 0], vec![true, false]));
        assert_eq!(c.close, [7.0, 8.0, 9.0, 10.5]);
        assert_eq!((c.open[3], c.high[3], c.volume[3]), (10.0, 10.5, 2.0));

        store.record(&snapshot(now + 20_000, 12.0, vec![]));
        store.record(&snapshot(now + 40_000, 9.5, vec![]));
        let c = m1(&store, now + 40_000);
        assert_eq!((c.close[3], c.high[3], c.low[3], c.volume[3]), (9.5, 12.0, 9.5, 2.0));

        store.record(&snapshot(11 * MINUTE + 1_000, 11.0, vec![]));
        let c = m1(&store, 11 * MINUTE + 1_000);
        assert_eq!(c.start_ms, [8 * MINUTE, 9 * MINUTE, 10 * MINUTE, 11 * MINUTE]);
        assert_eq!((c.open[3], c.volume[3], c.forming[0]), (11.0, 0.0, true));
        // Read later, with no new snapshot, the last candle is closed.
        assert!(!m1(&store, 12 * MINUTE).forming[0]);
    }

    #[test]
    fn a_gap_cuts_the_series_and_bad_candles_are_refused() {
        let mut store = store(10);
        let mut bad = rows(&[
            (3 * MINUTE, 3.0),
            (4 * MINUTE, f64::NAN),
            (5 * MINUTE + 1, 5.0),
            (60 * MINUTE, 1.0),
        ]);
        bad.candles[0].high = 1.0;
        let rejected = store.record(&snapshot(
            5 * MINUTE,
            5.0,
            vec![bad, rows(&[(MINUTE, 1.0), (2 * MINUTE, 2.0)])],
        ));
        assert_eq!(rejected.values().sum::<usize>(), 4, "{rejected:?}");
        // 1m and 2m arrived; 3m and 4m were refused, so the ticker's 5m candle starts anew.
        let c = m1(&store, 5 * MINUTE);
        assert_eq!(c.start_ms, [5 * MINUTE]);
        // A snapshot after a silent stretch: the series starts again after the gap.
        store.record(&snapshot(6 * MINUTE, 6.0, vec![]));
        store.record(&snapshot(9 * MINUTE, 9.0, vec![]));
        assert_eq!(m1(&store, 9 * MINUTE).start_ms, [9 * MINUTE]);
        // A backfill that fills the gap later joins what was kept across it.
        store.record(&snapshot(
            9 * MINUTE + 1,
            9.0,
            vec![rows(&[(7 * MINUTE, 7.0), (8 * MINUTE, 8.0)])],
        ));
        let c = m1(&store, 9 * MINUTE + 1);
        assert_eq!(c.start_ms, [5 * MINUTE, 6 * MINUTE, 7 * MINUTE, 8 * MINUTE, 9 * MINUTE]);
        assert_eq!(c.close, [5.0, 6.0, 7.0, 8.0, 9.0]);
    }

    #[test]
    fn a_replay_that_starts_over_sees_no_candle_from_its_future() {
        let mut store = store(3);
        store.record(&snapshot(
            20 * MINUTE,
            2.0,
            vec![rows(&[(18 * MINUTE, 1.0), (19 * MINUTE, 1.5)])],
        ));
        store.record(&snapshot(5 * MINUTE, 5.0, vec![]));
        let c = m1(&store, 5 * MINUTE);
        assert_eq!((c.start_ms, c.forming[0]), (vec![5 * MINUTE], true));
    }

    #[test]
    fn a_lower_demand_is_handed_over_at_once_even_before_the_next_snapshot() {
        let mut store = store(5);
        let backfill = rows(&(0..6).map(|i| (i * MINUTE, 1.0 + i as f64)).collect::<Vec<_>>());
        store.record(&snapshot(5 * MINUTE, 6.0, vec![backfill]));
        assert_eq!(m1(&store, 5 * MINUTE).lengths[0], 6);
        let mut lower = CandleDemand::default();
        lower.want(Timeframe::M1, 2);
        store.set_demand(lower);
        assert_eq!(m1(&store, 5 * MINUTE).close, [4.0, 5.0, 6.0]);
    }

    #[test]
    fn symbols_that_leave_are_forgotten_and_unwanted_time_frames_dropped() {
        let mut store = store(5);
        store.record(&snapshot(MINUTE, 1.0, vec![]));
        let mut gone = snapshot(2 * MINUTE, 1.0, vec![]);
        gone.tickers[0].symbol = "BUSDT".into();
        store.record(&gone);
        let c = m1(&store, 2 * MINUTE);
        assert_eq!(c.lengths, [0, 1]);
        store.set_demand(CandleDemand::default());
        assert!(store.market(base(2 * MINUTE)).candles.is_empty());
    }
}
