//! How a shadow's results differed from the serving version's, in one cycle or summed over
//! many: as `/plugins` shows it (JSON), as `/metrics` reads it (the agreement), and as the
//! summary line says it.

use serde_json::{json, Value};

use crate::shared::comparison::{EntryComparison, VerdictComparison};

/// How a shadow's results differed from the serving version's.
#[derive(Debug, Clone, PartialEq)]
pub enum Differences {
    /// An analyzer's verdicts, symbol by symbol.
    Verdicts(VerdictComparison),
    /// An aggregator's cache entries, key by key.
    Entries(EntryComparison),
}

impl Differences {
    /// Adds another cycle's differences to these totals; a change of kind starts them again.
    pub(super) fn add(&mut self, other: &Self) {
        match (self, other) {
            (Self::Verdicts(total), Self::Verdicts(more)) => total.add(more),
            (Self::Entries(total), Self::Entries(more)) => total.add(more),
            (total, more) => *total = more.clone(),
        }
    }

    /// The figures as `/plugins` shows them.
    pub(super) fn summary(&self) -> Value {
        match self {
            Self::Verdicts(v) => json!({
                "symbols_both_scored": v.both_scored,
                "signals_agree": v.signals_agree,
                "only_serving_scored": v.only_serving,
                "only_shadow_scored": v.only_candidate,
                "agreement": v.agreement(),
                "score_delta_mean": v.mean_delta(),
                "score_delta_mean_abs": v.mean_abs_delta(),
                "score_delta_max_abs": (v.both_scored > 0).then_some(v.abs_delta_max),
                "signal_changes": v.signal_changes,
            }),
            Self::Entries(e) => json!({
                "keys_added": e.added,
                "keys_removed": e.removed,
                "keys_changed": e.changed,
                "keys_same": e.same,
                "agreement": e.agreement(),
                "keys": e.keys,
            }),
        }
    }

    /// The share of symbols or keys on which the versions agree.
    pub(super) fn agreement(&self) -> Option<f64> {
        match self {
            Self::Verdicts(v) => v.agreement(),
            Self::Entries(e) => e.agreement(),
        }
    }

    /// One clause for the summary line.
    pub(super) fn line(&self) -> String {
        let share = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{:.1} %", x * 100.0));
        let number = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        match self {
            Self::Verdicts(v) => format!(
                "signals agree on {} of {} symbols both scored, score delta mean {} (abs {}, max {}), scored only by the serving version {}, only by the shadow {}",
                share(v.agreement()),
                v.both_scored,
                number(v.mean_delta()),
                number(v.mean_abs_delta()),
                number((v.both_scored > 0).then_some(v.abs_delta_max)),
                v.only_serving,
                v.only_candidate
            ),
            Self::Entries(e) => format!(
                "keys alike {} ({} added, {} removed, {} changed, {} same)",
                share(e.agreement()),
                e.added,
                e.removed,
                e.changed,
                e.same
            ),
        }
    }
}
