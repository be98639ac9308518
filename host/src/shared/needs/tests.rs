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
        data_age_ms: vec![0; 2],
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
    let call = cut.view();
    let view = &call.record;
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
    assert_eq!((view.cycle, call.len()), (7, 2));
    // 0.4.0's symbols, one buffer and where each name ends, and each symbol's data age.
    assert_eq!((view.symbols.text, view.symbols.ends), ("AB", &[1, 2][..]));
    assert_eq!(view.data_age_ms, [0, 0]);
    // The first symbol only: the other keeps its place with no candles.
    let top = Needs {
        history_depth: 0,
        candles: vec![need(Timeframe::M1, 1, 1)],
    };
    let cut = top.cut(&market(), &holds());
    let m1 = &cut.view().record.candles[0];
    assert_eq!(
        (m1.lengths, m1.forming, m1.close),
        (&[2, 0][..], &[true, false][..], &[3.0, 4.0][..])
    );
}

#[test]
fn what_the_widest_market_holds_at_the_depth_asked_is_borrowed_not_copied() {
    let widest = market();
    let all = holds().cut(&widest, &holds());
    let call = all.view();
    let view = &call.record;
    assert_eq!(view.history.price.as_ptr(), widest.market.history.price.as_ptr());
    assert_eq!(view.candles[0].close.as_ptr(), widest.candles[0].close.as_ptr());
    // The first symbol's candles, a prefix of the widest market's columns.
    let top = Needs {
        history_depth: 3,
        candles: vec![need(Timeframe::M1, 3, 1)],
    };
    let cut = top.cut(&widest, &holds());
    let m1 = &cut.view().record.candles[0];
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
        let m1 = &cut.view().record.candles[0];
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
        let m1 = &cut.view().record.candles[0];
        assert_eq!((m1.lengths, m1.volume.len()), (&[0, 0][..], 0), "depth {depth}");
    }
}
