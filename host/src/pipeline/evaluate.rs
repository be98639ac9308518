//! Step 4, after the write: the cycle's verdicts handed to the evaluation, which scores them
//! against what the market does next. It runs once the entries are written, so its sorting
//! never delays a write; what it finds shows in the next cycle's facts.

use std::sync::Arc;
use std::time::Duration;

use super::market::Served;
use super::round::RoundOutcome;
use super::Pipeline;
use crate::evaluation::Called;
use crate::plugin::{Generation, Role};

impl Pipeline {
    /// Hands the evaluation every analyzer version `generation` loads, serving and shadow,
    /// with the verdicts the round got from each, and the snapshot `served` if it is fresh.
    pub(super) fn evaluate(&mut self, served: &Served, round: &RoundOutcome, generation: &Generation) {
        let fresh = served.snapshot.as_ref().filter(|_| served.age == Some(Duration::ZERO));
        let serving = generation.analyzers.iter().map(|plugin| Called {
            plugin: plugin.id.as_str(),
            fingerprint: &plugin.fingerprint,
            shadow: false,
            verdicts: round
                .outputs
                .iter()
                .find(|o| o.plugin == plugin.id.as_str())
                .map(|o| &o.analyses.verdicts[..]),
        });
        let shadows = generation
            .shadows
            .iter()
            .filter(|s| s.kind.role() == Role::Analyzer)
            .map(|shadow| Called {
                plugin: shadow.id.as_str(),
                fingerprint: &shadow.fingerprint,
                shadow: true,
                verdicts: round
                    .shadow_verdicts
                    .iter()
                    .find(|(called, _)| Arc::ptr_eq(called, shadow))
                    .map(|(_, verdicts)| &verdicts[..]),
            });
        let called: Vec<Called<'_>> = serving.chain(shadows).collect();
        self.evaluation.observe(fresh, &called);
    }
}
