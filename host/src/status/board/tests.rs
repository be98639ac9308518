//! The status board at unit level: counters, the circuit breaker, probation.

use super::*;

fn fingerprint(hash: &str) -> Fingerprint {
    Fingerprint {
        hash: hash.into(),
        side_config: None,
        signature: None,
    }
}

fn outcome(failure: Option<Failure>) -> CallOutcome {
    CallOutcome {
        started_ms: 1,
        duration_ms: 2.0,
        error: failure.map(|f| format!("failed: {}", f.label())),
        failure,
        log_dropped_lines: 0,
        log_dropped_bytes: 0,
        instructions: None,
    }
}

/// Runs `cycles` cycles in which plugin `p` (version `v1`) is called when the breaker
/// admits it, failing each time; returns the cycles it was called in.
fn failing_calls(board: &mut StatusBoard, cycles: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    let mut called = Vec::new();
    for cycle in cycles {
        if board.admits("p", &fingerprint("v1"), cycle) {
            board.record("p", cycle, &outcome(Some(Failure::Trap)));
            called.push(cycle);
        }
    }
    called
}

#[test]
fn the_breaker_quarantines_after_failures_in_a_row_and_backs_off() {
    let mut board = StatusBoard::new(3, RollbackConfig::default());
    // Called in cycles 1-3, quarantined after the third; retried at 5, then 9, then 17.
    assert_eq!(failing_calls(&mut board, 1..=20), [1, 2, 3, 5, 9, 17]);
    let stats = &board.plugins["p"];
    assert!(stats.quarantined);
    assert_eq!((stats.calls, stats.failures, stats.traps), (6, 6, 6));
    assert_eq!(stats.failure_kinds["trap"], 6);
    assert_eq!(stats.retry_at_cycle, Some(17 + 16));
}

#[test]
fn a_success_resets_the_count_and_lifts_the_quarantine() {
    let mut board = StatusBoard::new(3, RollbackConfig::default());
    failing_calls(&mut board, 1..=2);
    board.record("p", 3, &outcome(None));
    assert_eq!(
        failing_calls(&mut board, 4..=5),
        [4, 5],
        "two more failures do not trip it"
    );
    assert!(!board.plugins["p"].quarantined);
    failing_calls(&mut board, 6..=6);
    assert!(board.plugins["p"].quarantined);
    assert!(board.admits("p", &fingerprint("v1"), 8), "retried two cycles later");
    board.record("p", 8, &outcome(None));
    let stats = &board.plugins["p"];
    assert!(!stats.quarantined && stats.retry_at_cycle.is_none());
    assert_eq!(stats.consecutive_failures, 0);
    assert_eq!(stats.last_error, None);
}

#[test]
fn the_backoff_stops_growing_at_its_maximum() {
    let mut board = StatusBoard::new(1, RollbackConfig::default());
    let called = failing_calls(&mut board, 1..=2000);
    let gaps: Vec<u64> = called.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(&gaps[..8], [2, 4, 8, 16, 32, 64, 128, MAX_BACKOFF_CYCLES]);
    assert!(gaps[8..].iter().all(|&g| g == MAX_BACKOFF_CYCLES), "{gaps:?}");
}

#[test]
fn a_new_version_starts_a_clean_record_even_before_its_first_call() {
    let mut board = StatusBoard::new(2, RollbackConfig::default());
    failing_calls(&mut board, 1..=2);
    board.dropped("p", 3);
    assert!(board.plugins["p"].quarantined);
    let listed = board.plugins(
        [PluginFacts {
            version: "2.0.0".into(),
            ..PluginFacts::example("p", "v2")
        }]
        .into_iter(),
        |_| None,
    );
    let stats = &listed[0].stats;
    assert_eq!((stats.calls, stats.failures, stats.dropped), (0, 0, 0));
    assert!(!stats.quarantined);
    assert!(board.admits("p", &fingerprint("v2"), 3));
}

/// Calls version `version` of plugin `p` in `cycle`, failing or not.
fn call(board: &mut StatusBoard, version: &str, cycle: u64, fails: bool) {
    assert!(board.admits("p", &fingerprint(version), cycle));
    board.record("p", cycle, &outcome(fails.then_some(Failure::Error)));
}

#[test]
fn a_swapped_in_version_on_probation_gives_way_after_failed_cycles_and_the_one_back_is_not_judged() {
    let mut board = StatusBoard::new(5, RollbackConfig::default());
    for cycle in 1..=4 {
        call(&mut board, "v1", cycle, false);
    }
    assert!(
        board.plugins["p"].probation.is_none(),
        "a first version is not on probation"
    );
    call(&mut board, "v2", 5, false);
    let probation = board.plugins["p"].probation.clone().unwrap();
    assert_eq!((probation.cycles_left, probation.replaced.calls), (29, 4));
    call(&mut board, "v2", 6, true);
    call(&mut board, "v2", 7, true);
    assert!(board.take_rollbacks().is_empty(), "two failed cycles are not three");
    call(&mut board, "v2", 8, true);
    let due = board.take_rollbacks();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].plugin.as_str(), due[0].hash.as_str(), due[0].cycle),
        ("p", "v2", 8)
    );
    assert!(
        due[0].reason.starts_with("it failed 3 cycles in a row"),
        "{}",
        due[0].reason
    );
    assert!(!board.plugins["p"].quarantined, "rolled back before the breaker trips");

    // The version swapped back in serves without probation, and says why it is back.
    call(&mut board, "v1", 9, false);
    let back = &board.plugins["p"];
    assert!(back.probation.is_none());
    assert_eq!(back.rolled_back.as_ref().map(|r| r.hash.as_str()), Some("v2"));

    // A later version that behaves passes its probation.
    call(&mut board, "v3", 10, false);
    assert!(board.plugins["p"].probation.is_some(), "v3 replaced v1: on probation");
    for cycle in 11..=39 {
        call(&mut board, "v3", cycle, false);
    }
    assert!(board.plugins["p"].probation.is_none());
    assert!(board.take_rollbacks().is_empty());
}
