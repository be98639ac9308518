//! The backfill at unit level: a candle a stream closed needs no fetch, a missed close does; one backfill, then each closed candle fetched once.

use super::*;

const MINUTE: i64 = 60_000;

fn ticker(symbol: &str) -> Ticker {
    Ticker {
        symbol: symbol.into(),
        price: 1.0,
        change_24h: 0.0,
        volume_24h: 1.0,
        turnover_24h: 1.0,
        high_24h: 1.0,
        low_24h: 1.0,
        data_ms: None,
    }
}

fn finish(backfill: &Backfill, job: &Job, starts: &[i64]) {
    let candles = starts.iter().map(|&s| Candle::opening(s, 1.0)).collect();
    backfill
        .shared
        .done
        .lock()
        .unwrap()
        .push(Fetched::Candles(job.clone(), candles));
}

#[test]
fn a_candle_a_stream_closed_needs_no_fetch_and_one_past_a_missed_close_is_a_gap() {
    let pace = Pace {
        per_second: 1,
        in_flight: 1,
    };
    let fetch: Fetch = Arc::new(|_, _, _| Box::pin(async { Ok(Vec::new()) }));
    let mut backfill = Backfill::new(fetch, pace).streamed(Duration::from_secs(10));
    let mut demand = CandleDemand::default();
    demand.want(Timeframe::M1, 60);
    backfill.want(demand, &[ticker("AUSDT")]);
    let now = 100 * MINUTE + 5_000;
    let jobs = backfill.plan(now);
    finish(&backfill, &jobs[0], &[99 * MINUTE, 100 * MINUTE]);
    backfill.take_finished(now);

    // The forming candle of minute 100 closes; the stream delivers it within the grace.
    assert!(backfill.plan(101 * MINUTE + 2_000).is_empty(), "within the grace");
    assert!(backfill.received("AUSDT", Timeframe::M1, 100 * MINUTE));
    assert!(backfill.plan(101 * MINUTE + 20_000).is_empty(), "delivered: no fetch");
    assert!(
        backfill.received("AUSDT", Timeframe::M1, 99 * MINUTE),
        "an old close changes nothing"
    );
    assert!(
        backfill.received("AUSDT", Timeframe::M1, 99 * MINUTE + 1),
        "not on the time frame: ignored"
    );

    // Minute 101's close never comes; minute 102's does: a gap, fetched at the next plan.
    assert!(!backfill.received("AUSDT", Timeframe::M1, 102 * MINUTE));
    let again = backfill.plan(103 * MINUTE + 20_000);
    assert_eq!((again.len(), again[0].limit), (1, 3), "minutes 101 to 103");
    assert!(
        backfill.received("AUSDT", Timeframe::M1, 102 * MINUTE),
        "a fetch in flight covers it"
    );
}

#[test]
fn backfills_once_then_fetches_each_candle_again_once_it_has_closed() {
    let pace = Pace {
        per_second: 1,
        in_flight: 1,
    };
    let fetch: Fetch = Arc::new(|_, _, _| Box::pin(async { Ok(Vec::new()) }));
    let mut backfill = Backfill::new(fetch, pace);
    let mut demand = CandleDemand::default();
    demand.want(Timeframe::M1, 60);
    demand.want(Timeframe::H1, 30);
    backfill.want(demand, &[ticker("AUSDT")]);
    let now = 100 * MINUTE + 5_000;
    let jobs = backfill.plan(now);
    let limits: Vec<(usize, u32)> = jobs.iter().map(|j| (j.timeframe, j.limit)).collect();
    assert_eq!(limits, [(0, 61), (3, 31)]);
    // Nothing more while they are pending.
    assert!(backfill.plan(now).is_empty());

    finish(&backfill, &jobs[0], &[99 * MINUTE, 100 * MINUTE]);
    let rows = backfill.take_finished(now);
    assert_eq!((rows.len(), rows[0].candles.len()), (1, 2));
    assert!(
        backfill.plan(now + 10_000).is_empty(),
        "the minute's candle is still forming"
    );
    let again = backfill.plan(101 * MINUTE);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].timeframe, again[0].limit),
        (0, 2),
        "the closed candle and the new one"
    );

    // A symbol that drops out of the top is forgotten once nothing is pending for it.
    backfill.want(demand, &[ticker("BUSDT")]);
    finish(&backfill, &again[0], &[100 * MINUTE, 101 * MINUTE]);
    backfill.take_finished(101 * MINUTE);
    let planned = backfill.plan(101 * MINUTE);
    assert!(planned.iter().all(|j| j.symbol == "BUSDT"));
    assert!(backfill
        .tracks
        .keys()
        .all(|(s, k)| s == "BUSDT" || (s == "AUSDT" && *k == 3)));
}
