//! High availability: of the daemons of one deployment, one writes.
//!
//! Each daemon campaigns in an etcd election (`election.rs`) on a lease it keeps alive. The
//! one elected writes; the others run every cycle as it does (source, history, candles,
//! plugins, hot swap) but write nothing, so that the first cycle after they take over is
//! whole. A leader writes only while it can prove its lease: the lease is good until the
//! moment its last renewal was *sent* plus the TTL etcd granted, on a clock that counts while
//! the process is paused (`boot_clock.rs`), and a write starts only if it can end before then.
//! A leader that cannot renew, or that was frozen past its lease, stops writing before etcd
//! has told it anything. The pipeline asks [`Leadership::may_write`] before each write.

mod boot_clock;
mod connect;
mod election;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use crate::shared::leadership::{plugin_drift, Candidate};
pub use crate::shared::leadership::{LeadershipFacts, PluginSet, Role};

pub use boot_clock::BootInstant;
pub use election::{start, Campaign};

/// The role as the election sets it and the pipeline and status server read it.
#[derive(Clone)]
pub struct Leadership {
    /// This daemon's id in the election; `None` without `[ha]`.
    id: Option<Arc<str>>,
    /// The role and the proof of the lease, shared with the election task.
    state: Arc<Mutex<State>>,
    /// The plugins this daemon serves, as the pipeline last said; a leader proclaims them.
    plugins: Arc<watch::Sender<PluginSet>>,
    /// Wakes the pipeline when this daemon is elected, so that it writes at once instead of
    /// at its next tick.
    elected: Arc<Notify>,
}

#[derive(Debug)]
struct State {
    role: Role,
    /// When the leader's lease can no longer be proven.
    proven_until: Option<BootInstant>,
    /// Times the role changed.
    transitions: u64,
    /// Failed exchanges with etcd.
    etcd_errors: u64,
    /// The last of them.
    last_error: Option<String>,
    /// The plugins the leader proclaimed, while standing by.
    leader_plugins: Option<PluginSet>,
    /// The drift last logged, so that each change is one line.
    drift_logged: Vec<String>,
}

impl Leadership {
    /// A daemon without `[ha]`: always the writer.
    pub fn alone() -> Self {
        Self::with(None, Role::Alone)
    }

    /// A daemon campaigning as `id`, standby until elected.
    fn campaigning(id: &str) -> Self {
        Self::with(Some(id.into()), Role::Standby { leader: None })
    }

    fn with(id: Option<Arc<str>>, role: Role) -> Self {
        Self {
            id,
            state: Arc::new(Mutex::new(State {
                role,
                proven_until: None,
                transitions: 0,
                etcd_errors: 0,
                last_error: None,
                leader_plugins: None,
                drift_logged: Vec::new(),
            })),
            plugins: Arc::new(watch::channel(PluginSet::new()).0),
            elected: Arc::new(Notify::new()),
        }
    }

    /// Resolves when this daemon has been elected since the last call returned (at once if it
    /// was elected meanwhile); never without `[ha]`. The pipeline runs a cycle then, so a
    /// failover does not wait for the next tick.
    pub async fn elected(&self) {
        self.elected.notified().await;
    }

    /// The term to write under, if this daemon may start a write that can take `within`: it
    /// leads and its lease is proven beyond now plus `within`. Without `[ha]`, term 0.
    pub fn may_write(&self, within: Duration) -> Option<i64> {
        self.may_write_in(&self.state.lock().unwrap(), within)
    }

    fn may_write_in(&self, state: &State, within: Duration) -> Option<i64> {
        match state.role {
            Role::Alone => Some(0),
            Role::Leader { term } => state
                .proven_until
                .filter(|&until| BootInstant::now().after(within) < until)
                .map(|_| term),
            Role::Standby { .. } => None,
        }
    }

    /// [`Leadership::may_write`] and [`Leadership::facts`] at one moment.
    pub fn now(&self, within: Duration) -> (Option<i64>, LeadershipFacts) {
        let state = self.state.lock().unwrap();
        (self.may_write_in(&state, within), self.facts_in(&state))
    }

    /// The role and counters now.
    pub fn facts(&self) -> LeadershipFacts {
        self.facts_in(&self.state.lock().unwrap())
    }

    fn facts_in(&self, state: &State) -> LeadershipFacts {
        LeadershipFacts {
            id: self.id.as_deref().map(String::from),
            role: state.role.clone(),
            transitions: state.transitions,
            etcd_errors: state.etcd_errors,
            last_etcd_error: state.last_error.clone(),
            plugin_drift: self.drift(state),
        }
    }

    /// Records the plugins this daemon serves (the pipeline says so every cycle): a leader
    /// proclaims a change; a standby compares them with its leader's. The set is only made for
    /// a daemon of a pair: a daemon alone does no such work in its cycle.
    pub fn serve(&self, plugins: impl FnOnce() -> PluginSet) {
        if self.id.is_none() {
            return;
        }
        let plugins = plugins();
        self.plugins.send_if_modified(|served| {
            let changed = *served != plugins;
            *served = plugins;
            changed
        });
        self.log_drift();
    }

    /// What this daemon campaigns with: its id and its plugins now.
    fn candidate(&self) -> Candidate {
        Candidate {
            id: self.id.as_deref().unwrap_or_default().to_string(),
            plugins: self.plugins.borrow().clone(),
        }
    }

    /// Notes the leader another daemon proclaimed: standing by for it.
    fn leader_seen(&self, leader: Candidate) {
        if self.set(Role::Standby {
            leader: Some(leader.id.clone()),
        }) {
            info!(leader = %leader.id, "ha: standby; {} leads", leader.id);
        }
        self.state.lock().unwrap().leader_plugins = Some(leader.plugins);
        self.log_drift();
    }

    /// How this standby's plugins differ from its leader's; empty when leading or unknown.
    fn drift(&self, state: &State) -> Vec<String> {
        match (&state.role, &state.leader_plugins) {
            (Role::Standby { .. }, Some(theirs)) => plugin_drift(&self.plugins.borrow(), theirs),
            _ => Vec::new(),
        }
    }

    /// One line when the drift from the leader's plugins starts, changes or ends.
    fn log_drift(&self) {
        let mut state = self.state.lock().unwrap();
        let drift = self.drift(&state);
        if drift == state.drift_logged {
            return;
        }
        if drift.is_empty() {
            info!("ha: this standby's plugins are the leader's again");
        } else {
            warn!(
                "ha: this standby's plugins differ from the leader's, so a failover would switch them: {}",
                drift.join("; ")
            );
        }
        state.drift_logged = drift;
    }

    /// Stands by with no leader known, as a term ends; returns whether this daemon was leading
    /// (only a daemon that led steps down).
    fn step_down(&self) -> bool {
        let was_leading = matches!(self.state.lock().unwrap().role, Role::Leader { .. });
        self.set(Role::Standby { leader: None });
        was_leading
    }

    /// Sets the role; returns whether it changed. A new role forgets the proof of any lease:
    /// a new term is proven by its own lease's renewals.
    fn set(&self, role: Role) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.role == role {
            return false;
        }
        state.proven_until = None;
        if !matches!(role, Role::Standby { .. }) {
            state.leader_plugins = None;
        }
        state.role = role;
        state.transitions += 1;
        true
    }

    /// Records a renewal of the lease: good until `until`.
    fn prove(&self, until: BootInstant) {
        let mut state = self.state.lock().unwrap();
        state.proven_until = Some(state.proven_until.map_or(until, |old| old.max(until)));
    }

    /// Counts a failed exchange with etcd.
    fn etcd_error(&self, error: &str) {
        let mut state = self.state.lock().unwrap();
        state.etcd_errors += 1;
        state.last_error = Some(error.chars().take(300).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_writes_only_while_its_lease_outlasts_the_write() {
        assert_eq!(Leadership::alone().may_write(Duration::from_secs(3600)), Some(0));
        let leadership = Leadership::campaigning("a");
        assert_eq!(leadership.may_write(Duration::ZERO), None, "a standby never writes");
        assert!(leadership.set(Role::Leader { term: 7 }));
        assert_eq!(
            leadership.may_write(Duration::ZERO),
            None,
            "elected, but no renewal seen yet"
        );
        leadership.prove(BootInstant::now().after(Duration::from_secs(2)));
        assert_eq!(leadership.may_write(Duration::from_secs(1)), Some(7));
        assert_eq!(
            leadership.may_write(Duration::from_secs(3)),
            None,
            "the write could outlast the lease"
        );
        assert!(leadership.set(Role::Standby {
            leader: Some("b".into())
        }));
        assert!(!leadership.set(Role::Standby {
            leader: Some("b".into())
        }));
        leadership.prove(BootInstant::now().after(Duration::from_secs(2)));
        assert!(leadership.set(Role::Leader { term: 9 }));
        assert_eq!(
            leadership.may_write(Duration::ZERO),
            None,
            "a new term needs a new proof"
        );
        let facts = leadership.facts();
        assert_eq!((facts.id.as_deref(), facts.transitions), (Some("a"), 3));
    }

    #[tokio::test]
    async fn an_election_wakes_the_pipeline_once_and_a_daemon_alone_never() {
        let short = Duration::from_millis(50);
        let leadership = Leadership::campaigning("a");
        leadership.elected.notify_one();
        let woken = tokio::time::timeout(short, leadership.clone().elected()).await;
        assert!(woken.is_ok(), "elected before the pipeline waited: it is woken at once");
        let again = tokio::time::timeout(short, leadership.elected()).await;
        assert!(again.is_err(), "one election wakes it once");
        let alone = tokio::time::timeout(short, Leadership::alone().elected()).await;
        assert!(alone.is_err());
    }
}
