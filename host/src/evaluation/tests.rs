//! The evaluation at unit level: a market whose next move each verdict knows (or reverses),
//! sampling by period, expiry across a gap, shadows beside the serving version, a restart.

use std::time::Duration;

use super::*;
use crate::config::Span;
use crate::shared::contract::{Signal, Verdict};
use crate::shared::market::Ticker;

const MINUTE: i64 = 60_000;
const SYMBOLS: usize = 10;

fn config(horizons: &[u64]) -> EvaluationConfig {
    EvaluationConfig {
        horizons: horizons.iter().map(|m| Span(Duration::from_secs(60 * m))).collect(),
        ..EvaluationConfig::default()
    }
}

/// Symbol `i` at minute `t` costs `100 · (1 + (i - 4)/100)^t`: each minute it moves `i - 4` %.
fn snapshot(t: i64) -> Snapshot {
    Snapshot {
        timestamp_ms: t * MINUTE,
        tickers: (0..SYMBOLS)
            .map(|i| Ticker {
                symbol: format!("S{i}USDT"),
                price: 100.0 * (1.0 + (i as f64 - 4.0) / 100.0).powi(t as i32),
                change_24h: 0.0,
                volume_24h: 1.0,
                turnover_24h: 1.0,
                high_24h: 1.0,
                low_24h: 1.0,
                data_ms: None,
            })
            .collect(),
        candles: Vec::new(),
    }
}

/// Scores rising with the symbol's index (`sign` 1) or falling (-1): knowing the next move, or
/// its reverse.
fn verdicts(sign: f64) -> Vec<Option<Verdict>> {
    (0..SYMBOLS)
        .map(|i| {
            let score = 50.0 + sign * (i as f64 * 5.0 - 22.5);
            let signal = if score > 50.0 { Signal::Buy } else { Signal::Sell };
            Some(Verdict { score, signal })
        })
        .collect()
}

fn fingerprint(hash: &str) -> Fingerprint {
    Fingerprint {
        hash: hash.repeat(64),
        side_config: None,
        signature: None,
    }
}

#[test]
fn verdicts_that_know_the_next_move_score_one_and_their_reverse_minus_one() {
    let mut evaluation = Evaluation::new(config(&[1, 5]));
    let (serving, shadow) = (fingerprint("a"), fingerprint("b"));
    let (up, down) = (verdicts(1.0), verdicts(-1.0));
    for t in 0..=20 {
        let called = [
            Called {
                plugin: "momentum",
                fingerprint: &serving,
                shadow: false,
                verdicts: Some(&up),
            },
            Called {
                plugin: "momentum",
                fingerprint: &shadow,
                shadow: true,
                verdicts: Some(&down),
            },
        ];
        evaluation.observe(Some(&snapshot(t)), &called);
    }
    let figures = evaluation.figures("momentum", &serving, false).unwrap();
    let (one, five) = (&figures[0], &figures[1]);
    assert_eq!((one.horizon.as_str(), one.samples, five.samples), ("1m", 20, 16));
    assert_eq!(one.rank_ic.mean, Some(1.0));
    assert_eq!(one.rank_ic.stderr, Some(0.0));
    assert_eq!(
        (one.hit_rate, one.directional),
        (Some(0.9), 200),
        "S4 does not move: its sell is a miss"
    );
    assert_eq!(one.coverage, Some(1.0));
    // The top fifth (S8, S9) rose 4.5 % a minute, the bottom (S0, S1) fell 3.5 %.
    assert!((one.top_minus_bottom_bps.mean.unwrap() - 800.0).abs() < 1e-6, "{one:?}");
    let paired = evaluation.paired("momentum", &shadow).unwrap();
    assert_eq!(paired[0].shadow.rank_ic.mean, Some(-1.0));
    assert_eq!(paired[0].serving.rank_ic.mean, Some(1.0));
    assert_eq!(paired[0].rank_ic_difference.mean, Some(-2.0));
    assert_eq!(paired[0].rank_ic_difference.samples, 20);
    assert_eq!(
        evaluation.paired("momentum", &serving),
        None,
        "a serving version has no pair"
    );
}

#[test]
fn one_sample_a_period_and_a_gap_expires_instead_of_stretching_the_horizon() {
    let mut evaluation = Evaluation::new(config(&[1]));
    let version = fingerprint("a");
    let up = verdicts(1.0);
    let called = [serving(&version, &up)];
    // Three snapshots in minute 0: one sample. Minute 1 scores it and samples again.
    for ms in [0, 20_000, 40_000, MINUTE] {
        let mut s = snapshot(0);
        s.timestamp_ms = ms;
        evaluation.observe(Some(&s), &called);
    }
    // A stale cycle (no fresh snapshot) neither samples nor scores.
    evaluation.observe(None, &called);
    // The source comes back at minute 9: minute 1's sample is 7 minutes late at its horizon.
    evaluation.observe(Some(&snapshot(9)), &called);
    let one = &evaluation.figures("momentum", &version, false).unwrap()[0];
    assert_eq!((one.samples, one.expired), (1, 1), "{one:?}");
    assert_eq!(one.first_sample_ms, Some(0));
}

#[test]
fn a_restart_takes_the_samples_and_sums_back_and_a_new_file_starts_afresh() {
    let mut evaluation = Evaluation::new(config(&[1, 5]));
    let version = fingerprint("a");
    let up = verdicts(1.0);
    let called = |fingerprint| {
        [Called {
            plugin: "momentum",
            fingerprint,
            shadow: false,
            verdicts: Some(&up),
        }]
    };
    for t in 0..=6 {
        evaluation.observe(Some(&snapshot(t)), &called(&version));
    }
    let saved: SavedEvaluation = serde_json::from_str(&serde_json::to_string(&evaluation.saved()).unwrap()).unwrap();
    let mut restarted = Evaluation::new(config(&[1, 5]));
    assert_eq!(restarted.restore(saved.clone()), Some((5, 1)));
    restarted.observe(Some(&snapshot(7)), &called(&version));
    evaluation.observe(Some(&snapshot(7)), &called(&version));
    assert_eq!(
        restarted.figures("momentum", &version, false),
        evaluation.figures("momentum", &version, false)
    );
    assert_eq!(restarted.figures("momentum", &version, false).unwrap()[0].samples, 7);
    // Other horizons: not taken back.
    assert_eq!(Evaluation::new(config(&[1])).restore(saved), None);
    // Another file under the same name starts afresh.
    let other = fingerprint("c");
    restarted.observe(Some(&snapshot(8)), &called(&other));
    assert_eq!(restarted.figures("momentum", &other, false).unwrap()[0].samples, 0);
    assert_eq!(restarted.figures("momentum", &version, false), None);
}

/// A serving version with its verdicts.
fn serving<'a>(fingerprint: &'a Fingerprint, verdicts: &'a [Option<Verdict>]) -> Called<'a> {
    Called {
        plugin: "momentum",
        fingerprint,
        shadow: false,
        verdicts: Some(verdicts),
    }
}

/// A serving version and its shadow, each with its verdicts.
fn pair<'a>(
    serving: &'a Fingerprint,
    shadow: &'a Fingerprint,
    up: &'a [Option<Verdict>],
    down: &'a [Option<Verdict>],
) -> [Called<'a>; 2] {
    [
        Called {
            plugin: "momentum",
            fingerprint: serving,
            shadow: false,
            verdicts: Some(up),
        },
        Called {
            plugin: "momentum",
            fingerprint: shadow,
            shadow: true,
            verdicts: Some(down),
        },
    ]
}

#[test]
fn a_new_serving_version_starts_the_shadows_pairs_afresh_and_old_samples_are_not_scored_for_it() {
    let mut evaluation = Evaluation::new(config(&[1]));
    let (old, new, shadow) = (fingerprint("a"), fingerprint("b"), fingerprint("c"));
    let (up, down) = (verdicts(1.0), verdicts(-1.0));
    let cycle = |serving| pair(serving, &shadow, &up, &down);
    for t in 0..=3 {
        evaluation.observe(Some(&snapshot(t)), &cycle(&old));
    }
    assert_eq!(evaluation.paired("momentum", &shadow).unwrap()[0].shadow.samples, 3);
    // A swap: the pairs end with the old version, before any sample of the new one is scored.
    evaluation.observe(Some(&snapshot(4)), &cycle(&new));
    assert_eq!(evaluation.paired("momentum", &shadow), None);
    // Minute 3's sample held the old version: the shadow's own figures take it, no pair does.
    assert_eq!(evaluation.figures("momentum", &shadow, true).unwrap()[0].samples, 4);
    evaluation.observe(Some(&snapshot(5)), &cycle(&new));
    let pair = &evaluation.paired("momentum", &shadow).unwrap()[0];
    assert_eq!((pair.shadow.samples, pair.serving.samples), (1, 1));
    assert_eq!(pair.rank_ic_difference.mean, Some(-2.0));
}

#[test]
fn a_saved_state_that_does_not_hold_is_not_taken_back() {
    let mut evaluation = Evaluation::new(config(&[1, 5]));
    let version = fingerprint("a");
    let up = verdicts(1.0);
    let called = [serving(&version, &up)];
    for t in 0..=3 {
        evaluation.observe(Some(&snapshot(t)), &called);
    }
    let saved = serde_json::to_value(evaluation.saved()).unwrap();
    // One list of symbols, written once for the four samples that share it.
    assert_eq!(saved["symbols"].as_array().unwrap().len(), 1);
    let restore = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut file = saved.clone();
        edit(&mut file);
        Evaluation::new(config(&[1, 5])).restore(serde_json::from_value(file).unwrap())
    };
    assert_eq!(restore(&|_| {}), Some((4, 1)));
    assert_eq!(
        restore(&|f| f["pending"][0]["prices"][2] = 0.0.into()),
        None,
        "a zero price"
    );
    assert_eq!(
        restore(&|f| f["pending"][1]["symbols"] = 7.into()),
        None,
        "no such list"
    );
    assert_eq!(
        restore(&|f| f["pending"][0]["columns"][0][0] = 9.into()),
        None,
        "no such version"
    );
    assert_eq!(
        restore(&|f| f["pending"][0]["columns"][0][1]["scores"][0] = 101.0.into()),
        None,
        "a score past 100"
    );
    assert_eq!(
        restore(&|f| f["next_id"] = u64::MAX.into()),
        None,
        "ids that could wrap"
    );
    assert_eq!(
        restore(&|f| f["last"][0] = i64::MAX.into()),
        None,
        "a period ahead of its time"
    );
}
