//! The link between the reloader and the pipeline: generations of plugins flow to the
//! pipeline, and each cycle's data flows back as the input of the next trial call. Both are
//! watch channels, so neither side ever waits for the other.

use std::sync::Arc;

use tokio::sync::watch;

use super::generation::Generation;
use super::stage::TrialInput;

/// The pipeline's end: where it takes the generation to serve and leaves its data for trials.
pub struct PluginFeed {
    /// The newest generation the reloader published.
    generations: watch::Receiver<Arc<Generation>>,
    /// The last cycle's market and analyzer outputs, read by the reloader when it stages.
    trials: watch::Sender<Option<TrialInput>>,
}

/// The reloader's end of a [`PluginFeed`].
pub(super) struct FeedSource {
    /// Where each new generation is published.
    pub(super) generations: watch::Sender<Arc<Generation>>,
    /// The last cycle's data, for trial calls.
    pub(super) trials: watch::Receiver<Option<TrialInput>>,
}

/// A feed starting with an empty generation and no trial input, and its reloader's end.
pub(super) fn feed() -> (FeedSource, PluginFeed) {
    let (generations_tx, generations) = watch::channel(Arc::new(Generation::default()));
    let (trials, trials_rx) = watch::channel(None);
    (
        FeedSource {
            generations: generations_tx,
            trials: trials_rx,
        },
        PluginFeed { generations, trials },
    )
}

impl PluginFeed {
    /// The generation to serve now: the newest one published. A cycle takes it once at its
    /// start, so a generation published mid-cycle serves from the next cycle whole.
    pub fn generation(&mut self) -> Arc<Generation> {
        self.generations.borrow_and_update().clone()
    }

    /// Leaves this cycle's market and analyzer outputs for the next version staged.
    pub fn leave_trial_input(&self, input: TrialInput) {
        self.trials.send_replace(Some(input));
    }
}
