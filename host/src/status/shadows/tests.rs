//! Shadow records at unit level: counts, the last cycle's figures, and the stop after failures.

use super::*;
use crate::shared::call::Failure;

fn facts(hash: &str) -> PluginFacts {
    PluginFacts {
        name: "trend".into(),
        kind: "analyzer",
        contract: "0.3.0",
        version: "2.0.0".into(),
        fingerprint: Fingerprint {
            hash: hash.repeat(64),
            side_config: None,
        },
        file: "shadow/trend.wasm".into(),
        loaded_at_ms: 0,
        peak_memory_bytes: 0,
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
    let [status] = &board.publish([shadow].into_iter())[..] else {
        panic!("one shadow")
    };
    assert!(status.stopped);
    assert_eq!((status.cycle, status.calls_ok, status.calls_failed), (6, 1, 5));
    assert!(status.last_cycle.is_none() && status.since_loaded.is_some());
    assert!(board.admits(&facts("b")), "a new version is called again");
}
