//! New connections of one source kept within half the exchange's published rate (Binance: 300
//! an address per five minutes; Bybit: 500), over a sliding five minutes, so connections that
//! keep failing cannot get the address banned, and the other half is left to anything else on
//! it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// The window the exchanges count connections over.
const WINDOW: Duration = Duration::from_secs(300);

/// Opens connections no faster than allowed.
pub(super) struct ConnectGate {
    /// Opens allowed per window.
    allowed: usize,
    /// When each open of the last window happened, oldest first.
    opened: Mutex<VecDeque<Instant>>,
}

impl ConnectGate {
    /// A gate for an exchange that allows `published` connections per five minutes.
    pub(super) fn new(published: u32) -> Self {
        Self {
            allowed: usize::try_from(published / 2).unwrap_or(usize::MAX).max(1),
            opened: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more open is within the rate, and counts it.
    pub(super) async fn wait(&self) {
        let mut opened = self.opened.lock().await;
        loop {
            let now = Instant::now();
            while opened.front().is_some_and(|&at| now.duration_since(at) >= WINDOW) {
                opened.pop_front();
            }
            if opened.len() < self.allowed {
                opened.push_back(now);
                return;
            }
            let oldest = *opened.front().expect("full, so not empty");
            tokio::time::sleep_until(oldest + WINDOW).await;
        }
    }
}
