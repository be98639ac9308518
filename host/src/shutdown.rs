//! Stopping on SIGTERM or SIGINT. The first signal asks the daemon to stop: it finishes the
//! cycle in flight and exits 0. A second signal exits at once, for an operator who will not
//! wait.

use anyhow::Result;
use tokio::sync::watch;
use tracing::warn;

/// A stop request that any number of tasks can wait for.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Starts listening for the signals, before anything slow starts, so a signal during
    /// start-up stops the daemon cleanly rather than killing it.
    pub fn listen() -> Result<Self> {
        let mut signals = Signals::new()?;
        let (requested, stop) = watch::channel(false);
        tokio::spawn(async move {
            signals.next().await;
            requested.send_replace(true);
            signals.next().await;
            warn!("second stop signal: exiting now, without finishing the cycle");
            std::process::exit(1);
        });
        Ok(Self(stop))
    }

    /// Resolves once a stop has been asked for.
    pub async fn requested(mut self) {
        let _ = self.0.wait_for(|requested| *requested).await;
    }
}

/// SIGTERM and SIGINT (Ctrl-C).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self> {
        #[cfg(unix)]
        {
            use anyhow::Context;
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
