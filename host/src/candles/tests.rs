//! The candle store at unit level: merges, trades, gaps, demand, and the candles it hands
//! over updated in place against the same candles built afresh.

use super::*;
use crate::shared::contract::{Candles, Timeframe};

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
            data_ms: None,
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

fn m1(store: &mut CandleStore, now: i64) -> Candles {
    Candles::clone(&store.market(base(now)).candles[0])
}

#[test]
fn at_most_the_depth_of_closed_candles_is_handed_over_forming_or_not() {
    let mut store = store(2);
    let closed = rows(&[(0, 1.0), (60_000, 2.0), (120_000, 3.0)]);
    store.record(&snapshot(180_500, 4.0, vec![closed]));
    let now = m1(&mut store, 180_500);
    assert_eq!(
        (&now.lengths[..], &now.start_ms[..]),
        (&[3, 0][..], &[60_000, 120_000, 180_000][..])
    );
    // A minute on, before the next snapshot: the candle of 180,000 is closed, and only the
    // last two closed ones are handed over.
    let later = m1(&mut store, 240_500);
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
    let c = m1(&mut store, now);
    // Three closed candles and the forming one, as fetched but for its close, which the
    // ticker's last price moved on (and its high with it); its volume is the fetch's.
    assert_eq!((c.lengths.clone(), c.forming.clone()), (vec![4, 0], vec![true, false]));
    assert_eq!(c.close, [7.0, 8.0, 9.0, 10.5]);
    assert_eq!((c.open[3], c.high[3], c.volume[3]), (10.0, 10.5, 2.0));

    store.record(&snapshot(now + 20_000, 12.0, vec![]));
    store.record(&snapshot(now + 40_000, 9.5, vec![]));
    let c = m1(&mut store, now + 40_000);
    assert_eq!((c.close[3], c.high[3], c.low[3], c.volume[3]), (9.5, 12.0, 9.5, 2.0));

    store.record(&snapshot(11 * MINUTE + 1_000, 11.0, vec![]));
    let c = m1(&mut store, 11 * MINUTE + 1_000);
    assert_eq!(c.start_ms, [8 * MINUTE, 9 * MINUTE, 10 * MINUTE, 11 * MINUTE]);
    assert_eq!((c.open[3], c.volume[3], c.forming[0]), (11.0, 0.0, true));
    // Read later, with no new snapshot, the last candle is closed.
    assert!(!m1(&mut store, 12 * MINUTE).forming[0]);
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
    let c = m1(&mut store, 5 * MINUTE);
    assert_eq!(c.start_ms, [5 * MINUTE]);
    // A snapshot after a silent stretch: the series starts again after the gap.
    store.record(&snapshot(6 * MINUTE, 6.0, vec![]));
    store.record(&snapshot(9 * MINUTE, 9.0, vec![]));
    assert_eq!(m1(&mut store, 9 * MINUTE).start_ms, [9 * MINUTE]);
    // A backfill that fills the gap later joins what was kept across it.
    store.record(&snapshot(
        9 * MINUTE + 1,
        9.0,
        vec![rows(&[(7 * MINUTE, 7.0), (8 * MINUTE, 8.0)])],
    ));
    let c = m1(&mut store, 9 * MINUTE + 1);
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
    let c = m1(&mut store, 5 * MINUTE);
    assert_eq!((c.start_ms, c.forming[0]), (vec![5 * MINUTE], true));
}

#[test]
fn a_lower_demand_is_handed_over_at_once_even_before_the_next_snapshot() {
    let mut store = store(5);
    let backfill = rows(&(0..6).map(|i| (i * MINUTE, 1.0 + i as f64)).collect::<Vec<_>>());
    store.record(&snapshot(5 * MINUTE, 6.0, vec![backfill]));
    assert_eq!(m1(&mut store, 5 * MINUTE).lengths[0], 6);
    let mut lower = CandleDemand::default();
    lower.want(Timeframe::M1, 2);
    store.set_demand(lower);
    assert_eq!(m1(&mut store, 5 * MINUTE).close, [4.0, 5.0, 6.0]);
}

#[test]
fn symbols_that_leave_are_forgotten_and_unwanted_time_frames_dropped() {
    let mut store = store(5);
    store.record(&snapshot(MINUTE, 1.0, vec![]));
    let mut gone = snapshot(2 * MINUTE, 1.0, vec![]);
    gone.tickers[0].symbol = "BUSDT".into();
    store.record(&gone);
    let c = m1(&mut store, 2 * MINUTE);
    assert_eq!(c.lengths, [0, 1]);
    store.set_demand(CandleDemand::default());
    assert!(store.market(base(2 * MINUTE)).candles.is_empty());
}

#[test]
fn candles_updated_in_place_are_the_candles_built_afresh() {
    let mut store = store(3);
    let mut demand = store.demand();
    demand.want(Timeframe::M5, 2);
    store.set_demand(demand);
    // Markets still held when the next is built, as a trial call holds the last one.
    let mut held = VecDeque::new();
    for step in 0..300i64 {
        let now = step * 7_000 + 1;
        let price = 1.0 + (step * 7 % 13) as f64;
        let mut snapshot = snapshot(now, price, vec![]);
        let mut b = snapshot.tickers[0].clone();
        (b.symbol, b.price) = ("BUSDT".into(), price * 2.0);
        // The turnover order changes now and then; BUSDT leaves for a while and comes back.
        match (step % 7 < 3, step % 50 > 45) {
            (_, true) => {}
            (true, false) => snapshot.tickers.push(b),
            (false, false) => snapshot.tickers.insert(0, b),
        }
        if step % 40 == 7 {
            // A backfill into the past of AUSDT, and its forming candle refetched.
            let start = timeframe::candle_start(Timeframe::M1, now);
            snapshot
                .candles
                .push(rows(&[(start - 2 * MINUTE, 3.0), (start, price)]));
        }
        store.record(&snapshot);
        let in_place = store.market(snapshot.to_market(1, "test", std::time::Duration::ZERO));
        // A market with one more symbol than the store knows is built afresh.
        let mut more = snapshot.clone();
        let mut c = more.tickers[0].clone();
        c.symbol = "CUSDT".into();
        more.tickers.push(c);
        let afresh = store.market(more.to_market(1, "test", std::time::Duration::ZERO));
        for (updated, built) in in_place.candles.iter().zip(&afresh.candles) {
            let mut expected = Candles::clone(built);
            assert_eq!((expected.lengths.pop(), expected.forming.pop()), (Some(0), Some(false)));
            assert_eq!(format!("{updated:?}"), format!("{expected:?}"), "step {step}");
        }
        held.push_back(in_place);
        while held.len() > step as usize % 3 {
            held.pop_front();
        }
    }
}
