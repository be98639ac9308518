//! What a version's calls cost in WebAssembly instructions, where the daemon counts them
//! (`[sandbox] count_instructions`): the mean and the largest per call, and the last call's.
//! Unlike a call's time, the count is the same on every run and every machine.

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
