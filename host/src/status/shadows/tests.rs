//! Shadow records at unit level: counts, the last cycle's figures, the stop after failures, and
//! the summary line a minute.

use super::*;
use crate::shared::call::Failure;
use crate::shared::comparison::EntryComparison;

fn facts(hash: &str) -> PluginFacts {
    PluginFacts {
        version: "2.0.0".into(),
        file: "shadow/trend.wasm".into(),
        ..PluginFacts::example("trend", &hash.repeat(64))
    }
}

fn outcome(fails: bool) -> CallOutcome {
    CallOutcome {
        started_ms: 1,
        duration_ms: 2.0,
        error: fails.then(|| "broken".to_string()),
        failure: fails.then_some(Failure::Error),
        log_dropped_lines: 0,
        log_dropped_bytes: 0,
        instructions: None,
    }
}

#[test]
fn a_shadow_failing_cycle_after_cycle_is_stopped_until_its_file_changes() {
    let mut board = ShadowBoard::new(3);
    let shadow = facts("a");
    for cycle in 1..=2 {
        assert!(board.admits(&shadow));
        board.record((&shadow, cycle), None, &outcome(true), None);
    }
    board.record(
        (&shadow, 3),
        None,
        &outcome(false),
        Some(Differences::Entries(EntryComparison::default())),
    );
    for cycle in 4..=6 {
        assert!(board.admits(&shadow), "a success starts the count again");
        board.record((&shadow, cycle), None, &outcome(true), None);
    }
    assert!(!board.admits(&shadow));
    let [status] = &board.publish([shadow].into_iter(), |_| None)[..] else {
        panic!("one shadow")
    };
    assert!(status.stopped);
    assert_eq!((status.cycle, status.calls_ok, status.calls_failed), (6, 1, 5));
    assert!(status.last_cycle.is_none() && status.since_loaded.is_some());
    assert!(board.admits(&facts("b")), "a new version is called again");
}

#[test]
fn the_summary_line_comes_once_a_minute_with_what_the_minute_held() {
    let mut board = ShadowBoard::new(3);
    let shadow = facts("a");
    let serving = Some("0.2.0@bbbbbbbbbbbb".to_string());
    let compared = |agree: u64, delta: f64| {
        Differences::Verdicts(VerdictComparison {
            both_scored: 30,
            signals_agree: agree,
            delta_sum: 30.0 * delta,
            abs_delta_sum: 30.0 * delta,
            abs_delta_max: delta,
            ..VerdictComparison::default()
        })
    };
    board.record((&shadow, 1), serving.clone(), &outcome(false), Some(compared(30, 4.0)));
    board.record((&shadow, 2), serving.clone(), &outcome(true), None);
    board.record((&shadow, 3), serving, &outcome(false), Some(compared(26, 6.0)));
    let record = board.records.get_mut("trend").unwrap();
    let start = record.period_start;

    assert_eq!(take_summary(&shadow, record, start + Duration::from_secs(59)), None);
    let (line, cycles, failed) = take_summary(&shadow, record, start + SUMMARY_PERIOD).unwrap();
    assert_eq!((cycles, failed), (3, 1));
    assert_eq!(
        line,
        "shadow trend 2.0.0 (beside 0.2.0@bbbbbbbbbbbb) over the last minute: 3 cycles, 1 failed calls; \
         signals agree on 93.3 % of 60 symbols both scored, score delta mean 5.00 (abs 5.00, max 6.00), \
         scored only by the serving version 0, only by the shadow 0"
    );
    let next = start + SUMMARY_PERIOD * 2;
    assert_eq!(
        take_summary(&shadow, record, next),
        None,
        "a minute without a cycle says nothing"
    );
}
