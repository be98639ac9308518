//! What a daemon is in its active/standby pair, as the status document and server show it.

use serde::Serialize;

/// What this daemon is in its deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// No `[ha]`: the only writer.
    Alone,
    /// Elected in `term` (the revision etcd gave its leader key: a later leader's is higher).
    Leader {
        /// The term it writes under.
        term: i64,
    },
    /// Not elected: another daemon leads (its id, when known), or none does yet.
    Standby {
        /// The leader's id, as it campaigned.
        leader: Option<String>,
    },
}

/// The role and its counters, for the status document, `/healthz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeadershipFacts {
    /// This daemon's id; absent without `[ha]`.
    pub id: Option<String>,
    /// Its role.
    #[serde(flatten)]
    pub role: Role,
    /// Times the role changed since start.
    pub transitions: u64,
    /// Failed exchanges with etcd since start.
    pub etcd_errors: u64,
    /// The last of them.
    pub last_etcd_error: Option<String>,
}
