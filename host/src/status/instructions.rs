//! What a version's calls cost in WebAssembly instructions, where the daemon counts them
//! (`[sandbox] count_instructions`): the mean and the largest per call, and the last call's.
//! Unlike a call's time, the count repeats from run to run (same build, config and input).

use serde::Serialize;

/// A version's instruction counts over its calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InstructionCounts {
    /// Calls counted.
    pub calls: u64,
    /// Their mean.
    pub mean: f64,
    /// The largest.
    pub max: u64,
    /// The last call's.
    pub last: u64,
    /// All of them, for `pulse_plugin_instructions_total`.
    #[serde(skip)]
    pub total: u64,
}

impl InstructionCounts {
    /// Counts one call's `instructions`, if it was counted.
    pub fn add(counts: &mut Option<Self>, instructions: Option<u64>) {
        let Some(n) = instructions else {
            return;
        };
        let counts = counts.get_or_insert_with(Self::default);
        counts.calls += 1;
        counts.mean += (n as f64 - counts.mean) / counts.calls as f64;
        counts.max = counts.max.max(n);
        counts.last = n;
        counts.total = counts.total.saturating_add(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_never_counted_shows_no_counts() {
        let mut board = crate::status::StatusBoard::new(5, crate::config::RollbackConfig::default());
        let outcome = |instructions| crate::shared::call::CallOutcome {
            started_ms: 0,
            duration_ms: 1.0,
            error: None,
            failure: None,
            log_dropped_lines: 0,
            log_dropped_bytes: 0,
            instructions,
        };
        let facts = |name: &str| crate::shared::call::PluginFacts::example(name, &"0".repeat(64));
        board.plugins([facts("counted"), facts("not")].into_iter(), |_| None);
        board.record("counted", 1, &outcome(Some(42)));
        board.record("not", 1, &outcome(None));
        let listed = board.plugins([facts("counted"), facts("not")].into_iter(), |_| None);
        let json: Vec<serde_json::Value> = listed
            .iter()
            .map(|p| serde_json::to_value(p.listed()).unwrap())
            .collect();
        assert_eq!(json[0]["instructions"]["last"], 42, "{}", json[0]);
        assert!(json[1].get("instructions").is_none(), "{}", json[1]);
    }

    #[test]
    fn calls_not_counted_leave_the_counts_alone() {
        let mut counts = None;
        InstructionCounts::add(&mut counts, None);
        assert_eq!(counts, None);
        for n in [100, 300, 200] {
            InstructionCounts::add(&mut counts, Some(n));
        }
        let counts = counts.unwrap();
        assert_eq!(
            (counts.calls, counts.max, counts.last, counts.total),
            (3, 300, 200, 600)
        );
        assert_eq!(counts.mean, 200.0);
    }
}
