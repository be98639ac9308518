//! The daemon's role in its active/standby pair on `/metrics` and `/healthz`: a standby that
//! runs its cycles is healthy, and says whom it stands by for and how its plugins differ from
//! its leader's.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::prometheus::counter;
use crate::shared::leadership::{LeadershipFacts, Role};

/// `pulse_ha_leader`, `pulse_ha_term`, `pulse_ha_transitions_total` and
/// `pulse_ha_etcd_errors_total`, with `[ha]` only.
pub(super) fn encode(out: &mut DescriptorEncoder<'_>, ha: Option<&LeadershipFacts>) -> fmt::Result {
    let Some(ha) = ha else {
        return Ok(());
    };
    let (leader, term) = match ha.role {
        Role::Leader { term } => (1, term),
        _ => (0, 0),
    };
    let metric = out.encode_descriptor(
        "ha_leader",
        "1 while this daemon leads its active/standby pair and writes, 0 while it stands by",
        None,
        MetricType::Gauge,
    )?;
    ConstGauge::new(leader).encode(metric)?;
    let metric = out.encode_descriptor(
        "ha_term",
        "The term this daemon leads in (etcd's revision of its leader key); 0 while standby",
        None,
        MetricType::Gauge,
    )?;
    ConstGauge::new(term).encode(metric)?;
    counter(
        out,
        "ha_transitions",
        "Changes of role (leader, standby) since start",
        None,
        ha.transitions,
    )?;
    counter(
        out,
        "ha_etcd_errors",
        "Failed exchanges with etcd since start",
        None,
        ha.etcd_errors,
    )?;
    let metric = out.encode_descriptor(
        "ha_plugin_drift",
        "Plugins whose version or file differs between this standby and its leader (0 while leading)",
        None,
        MetricType::Gauge,
    )?;
    ConstGauge::new(ha.plugin_drift.len() as i64).encode(metric)
}

/// The role for `/plugins`' `Pulse-Role` header: `leader; term=N` or `standby; leader=ID`.
pub(super) fn role_header(ha: Option<&LeadershipFacts>) -> Option<String> {
    Some(match &ha?.role {
        Role::Leader { term } => format!("leader; term={term}"),
        Role::Standby { leader } => format!("standby; leader={}", leader.as_deref().unwrap_or("none")),
        Role::Alone => return None,
    })
}

/// The health of a standby whose cycles run: healthy, and whom it stands by for and how its
/// plugins differ from its leader's; `None` for a leader or a daemon without `[ha]`, whose
/// health is its writes'.
pub(super) fn standby_health(ha: Option<&LeadershipFacts>) -> Option<String> {
    let ha = ha?;
    let Role::Standby { leader } = &ha.role else {
        return None;
    };
    let leader = leader
        .as_deref()
        .map_or_else(|| "no leader known yet".to_string(), |id| format!("{id} leads"));
    let drift = match ha.plugin_drift.as_slice() {
        [] => String::new(),
        drift => format!("; its plugins differ from the leader's: {}", drift.join("; ")),
    };
    Some(format!("standby, ready to take over; {leader}{drift}"))
}
