//! What a daemon is in its active/standby pair, as the status document and server show it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The plugins a daemon serves, by name: `VERSION@HASH`, the hash being the first 12 hex
/// digits of the file's SHA-256. A standby compares its own with its leader's, so a failover
/// never switches strategy versions unseen.
pub type PluginSet = BTreeMap<String, String>;

/// What a daemon campaigns with, and a leader proclaims when its plugins change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its id.
    pub id: String,
    /// The plugins it serves.
    pub plugins: PluginSet,
}

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
    /// Where a standby's plugins differ from its leader's (`NAME: here X, leader Y`); empty
    /// when they are the same, or when leading.
    pub plugin_drift: Vec<String>,
}

/// How `here` differs from the leader's `there`, one line per plugin.
pub fn plugin_drift(here: &PluginSet, there: &PluginSet) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = here.keys().chain(there.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| match (here.get(name), there.get(name)) {
            (Some(a), Some(b)) if a == b => None,
            (a, b) => Some(format!(
                "{name}: here {}, leader {}",
                a.map_or("none", String::as_str),
                b.map_or("none", String::as_str)
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_names_each_plugin_that_differs_or_is_missing_on_one_side() {
        let set = |pairs: &[(&str, &str)]| -> PluginSet {
            pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let here = set(&[("trend", "1.0@aa"), ("volatility", "1.0@bb"), ("mine", "0.1@cc")]);
        let there = set(&[("trend", "1.1@dd"), ("volatility", "1.0@bb"), ("dashboard", "1.0@ee")]);
        assert_eq!(
            plugin_drift(&here, &there),
            [
                "dashboard: here none, leader 1.0@ee",
                "mine: here 0.1@cc, leader none",
                "trend: here 1.0@aa, leader 1.1@dd"
            ]
        );
        assert!(plugin_drift(&here, &here).is_empty());
    }
}
