//! What an aggregator is handed: the analyzers' results while they fit in a quarter of its
//! memory cap (the bundled dashboard works in ~3.7 bytes per byte it is handed), else without
//! the largest until they do, so no number of analyzers can push an aggregator past its cap.

use std::sync::Arc;

use crate::plugin::checks::handed_over_bytes;
use crate::plugin::LoadedPlugin;
use crate::shared::contract::AnalyzerOutput;

/// The results an aggregator is handed, and those withheld from it.
pub(super) struct Fitted {
    /// What the aggregator is handed.
    pub(super) outputs: Arc<Vec<AnalyzerOutput>>,
    /// Each withheld analyzer's name and the bytes its results take, largest first.
    pub(super) withheld: Vec<(String, usize)>,
    /// The budget they were fitted to, in bytes.
    pub(super) budget: usize,
}

/// `outputs` fitted to `aggregator`'s budget: all of them while they fit (shared, not
/// copied), else without the largest (the lower name first among equals) until they do.
pub(super) fn fit(aggregator: &LoadedPlugin, outputs: &Arc<Vec<AnalyzerOutput>>) -> Fitted {
    let budget = aggregator.policy.memory_bytes / 4;
    let sizes: Vec<usize> = outputs.iter().map(handed_over_bytes).collect();
    let mut total: usize = sizes.iter().sum();
    if total <= budget {
        return Fitted {
            outputs: outputs.clone(),
            withheld: Vec::new(),
            budget,
        };
    }
    let mut by_size: Vec<usize> = (0..outputs.len()).collect();
    by_size.sort_by_key(|&i| (std::cmp::Reverse(sizes[i]), outputs[i].plugin.clone()));
    let mut withheld = Vec::new();
    for i in by_size {
        if total <= budget {
            break;
        }
        total -= sizes[i];
        withheld.push(i);
    }
    let kept = outputs
        .iter()
        .enumerate()
        .filter(|(i, _)| !withheld.contains(i))
        .map(|(_, o)| o.clone())
        .collect();
    Fitted {
        outputs: Arc::new(kept),
        withheld: withheld
            .iter()
            .map(|&i| (outputs[i].plugin.clone(), sizes[i]))
            .collect(),
        budget,
    }
}
