//! SIGHUP, which operators and `systemctl reload` send: the daemon reads its plugin directory and
//! the side configs again at once (as a settled file change would) and logs one line. It never
//! stops the daemon. The daemon's own config is read at start only.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::info;

use crate::plugin::DirectoryWatch;

/// SIGHUP, listened for from start-up on, so one that arrives while the plugins load neither
/// kills the daemon nor is lost.
pub struct Hangup(Signal);

impl Hangup {
    /// Starts listening for SIGHUP.
    pub fn listen() -> Result<Self> {
        Ok(Self(signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?))
    }

    /// Has `watch` read the plugin directory again at each SIGHUP, for the life of the runtime.
    pub fn reconcile_on_each(mut self, watch: std::sync::Arc<DirectoryWatch>) {
        tokio::spawn(async move {
            while self.0.recv().await.is_some() {
                info!(
                    "SIGHUP: reading the plugin directory and side configs again (the daemon's own config is read at start only)"
                );
                watch.reconcile_now();
            }
        });
    }
}
