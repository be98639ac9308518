//! What one loaded version remembers between its calls (contract 0.4.0): the state its last
//! accepted call returned, or, until its first cycle starts, the version it starts from.
//!
//! State belongs to a version, not to a plugin's name: the serving version, each shadow and the
//! version a swap replaced (kept for a rollback) each hold their own, so a rollback resumes the
//! old version's state as it was at the swap. A version starts empty, or from the state of the
//! version it takes over from (a promoted shadow's own, or a replaced or serving version's of
//! the same `state-format`: `plugin/reload/inherit.rs` decides). That state is read when the
//! first cycle after it is loaded starts ([`Generation::settle_states`]), never in the middle of a
//! cycle, so a shadow starting beside the serving version takes the state the serving version
//! had before the cycle, as a restart would.
//!
//! [`Generation::settle_states`]: super::Generation::settle_states

use std::sync::{Arc, Mutex, MutexGuard};

/// One version's state, behind a lock: the cycle reads and replaces it, status reads its size.
/// Shared (`Arc`) so a version that starts from it holds it, not the whole version.
#[derive(Default)]
pub(super) struct KeptState(Mutex<Held>);

/// What a version holds.
enum Held {
    /// The state its next call gets (empty before it returns any).
    Bytes(Arc<[u8]>),
    /// Not yet called: the state of the version it starts from, read at its first cycle.
    From(Arc<KeptState>),
}

impl Default for Held {
    fn default() -> Self {
        Held::Bytes(Arc::from([]))
    }
}

impl KeptState {
    /// The state the next call gets; a version that starts from another's takes a copy of it
    /// now (once).
    pub(super) fn current(&self) -> Arc<[u8]> {
        let mut held = self.lock();
        let state = match &*held {
            Held::Bytes(state) => return state.clone(),
            Held::From(version) => version.current(),
        };
        *held = Held::Bytes(state.clone());
        state
    }

    /// Replaces the state with what an accepted call returned.
    pub(super) fn keep(&self, state: Vec<u8>) {
        *self.lock() = Held::Bytes(state.into());
    }

    /// Makes the version start from `version`'s state. Only a version just staged, which no
    /// cycle has called, is made to.
    pub(super) fn start_from(&self, version: Arc<KeptState>) {
        *self.lock() = Held::From(version);
    }

    /// The state its next call would get, without settling anything: what a save writes (a
    /// version still to take another's state is saved with that state, which a restart then
    /// hands it as its own).
    pub(super) fn peek(&self) -> Arc<[u8]> {
        match &*self.lock() {
            Held::Bytes(state) => state.clone(),
            Held::From(version) => version.peek(),
        }
    }

    /// Replaces the state with one saved before a restart (before any call).
    pub(super) fn restore(&self, state: Arc<[u8]>) {
        *self.lock() = Held::Bytes(state);
    }

    /// Its size in bytes, for status: what its next call gets.
    pub(super) fn len(&self) -> usize {
        self.peek().len()
    }

    /// The lock; a panic while holding it cannot leave the state half-written (every write
    /// replaces it whole), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
