//! The link between the reloader and the pipeline: generations of plugins flow to the
//! pipeline, and each cycle's data flows back as the input of the next trial call (both watch
//! channels, so neither side ever waits for the other), and so do rollbacks, which wake the
//! reloader's thread as a change of the plugin directory does.

use std::sync::mpsc;
use std::sync::Arc;

use notify_debouncer_full::DebounceEventResult;
use tokio::sync::watch;

use super::generation::Generation;
use super::stage::TrialInput;
use crate::shared::call::Rollback;

/// What wakes the reloader's thread.
pub(super) enum Wake {
    /// The plugin directory changed, or its watch failed.
    Files(DebounceEventResult),
    /// A version on probation is to give way to the version it replaced.
    RollBack(Rollback),
    /// An operator asked for the directory to be read again now (SIGHUP).
    Reconcile,
}

/// The pipeline's end: where it takes the generation to serve and leaves its data for trials.
pub struct PluginFeed {
    /// The newest generation the reloader published.
    generations: watch::Receiver<Arc<Generation>>,
    /// The last cycle's market and analyzer outputs, read by the reloader when it stages.
    trials: watch::Sender<Option<TrialInput>>,
    /// Where rollbacks go to the reloader.
    wake: mpsc::Sender<Wake>,
}

/// The reloader's end of a [`PluginFeed`].
pub(super) struct FeedSource {
    /// Where each new generation is published.
    pub(super) generations: watch::Sender<Arc<Generation>>,
    /// The last cycle's data, for trial calls.
    pub(super) trials: watch::Receiver<Option<TrialInput>>,
    /// What wakes the reloader's thread, taken by the thread when it starts.
    pub(super) wakes: Option<mpsc::Receiver<Wake>>,
    /// Where the directory watch sends its changes.
    pub(super) wake: mpsc::Sender<Wake>,
}

/// A feed starting with an empty generation and no trial input, and its reloader's end.
pub(super) fn feed() -> (FeedSource, PluginFeed) {
    let (generations_tx, generations) = watch::channel(Arc::new(Generation::default()));
    let (trials, trials_rx) = watch::channel(None);
    let (wake, wakes) = mpsc::channel();
    (
        FeedSource {
            generations: generations_tx,
            trials: trials_rx,
            wakes: Some(wakes),
            wake: wake.clone(),
        },
        PluginFeed {
            generations,
            trials,
            wake,
        },
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

    /// Asks the reloader to swap the version `rollback` names back out for the one it
    /// replaced; the generation it publishes serves from the next cycle. Without a watching
    /// reloader (a replay), nothing happens.
    pub fn roll_back(&self, rollback: Rollback) {
        let _ = self.wake.send(Wake::RollBack(rollback));
    }
}
