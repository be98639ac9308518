//! The loaded plugins on `/metrics`: each one's call durations, counts, failures by kind,
//! whether the breaker holds it, and what it is, read from the status board's counters as the
//! last cycle published them.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::board::{PluginStats, PluginStatus};
use super::live::Published;
use super::prometheus::{counters, family, gauges};
use crate::shared::call::Failure;

/// Per-plugin series of the loaded versions, from the status board.
pub(super) fn encode(out: &mut DescriptorEncoder<'_>, live: &Published) -> fmt::Result {
    let plugins = live.plugins();
    family(
        out,
        "plugin_call_duration",
        "Duration of plugin calls (fresh instance, init and the call)",
        Some(&Unit::Seconds),
        MetricType::Histogram,
        plugins.iter().map(|p| {
            (
                [("plugin", p.plugin.name.as_str()), ("kind", p.plugin.kind)],
                &p.stats.call_times,
            )
        }),
        |times, m| times.encode(m),
    )?;
    for (name, help, unit, count) in COUNTS {
        let series = plugins
            .iter()
            .map(|p| ([("plugin", p.plugin.name.as_str())], count(&p.stats)));
        counters(out, name, help, unit.as_ref(), series)?;
    }
    failures_by_kind(out, plugins)?;
    let counted = plugins.iter().filter_map(|p| {
        let counts = p.stats.instructions.as_ref()?;
        Some(([("plugin", p.plugin.name.as_str())], counts.total))
    });
    counters(
        out,
        "plugin_instructions",
        "WebAssembly instructions executed by a plugin's calls (with [sandbox] count_instructions)",
        None,
        counted,
    )?;
    plugin_states(out, live)
}

/// A count the board keeps per plugin: its series' name, help, unit, and how it is read.
type Count = (&'static str, &'static str, Option<Unit>, fn(&PluginStats) -> u64);

/// The per-plugin counters, one series per loaded plugin each.
const COUNTS: [Count; 7] = [
    ("plugin_calls", "Plugin calls made", None, |s| s.calls),
    (
        "plugin_traps",
        "Plugin calls that trapped (panic, abort, memory cap, host limit)",
        None,
        |s| s.traps,
    ),
    ("plugin_timeouts", "Plugin calls stopped at their deadline", None, |s| {
        s.timeouts
    }),
    (
        "plugin_errors",
        "Plugin calls that returned an error or output the host refused",
        None,
        |s| {
            let budget = s
                .failure_kinds
                .get(Failure::InstructionBudget.label())
                .copied()
                .unwrap_or(0);
            s.failures.saturating_sub(s.traps + s.timeouts + budget)
        },
    ),
    (
        "plugin_dropped_outputs",
        "Verdicts or cache entries dropped by the host's output checks",
        None,
        |s| s.dropped,
    ),
    (
        "plugin_log_dropped_lines",
        "Lines a plugin wrote to the log (log calls, stdout, stderr) dropped over its log budget",
        None,
        |s| s.log_dropped_lines,
    ),
    (
        "plugin_log_dropped",
        "Bytes of the log lines dropped over a plugin's log budget",
        Some(Unit::Bytes),
        |s| s.log_dropped_bytes,
    ),
];

/// Failed calls by kind; every kind's series exists from the plugin's load, at 0, so rate()
/// sees its start.
fn failures_by_kind(out: &mut DescriptorEncoder<'_>, plugins: &[PluginStatus]) -> fmt::Result {
    let by_kind = plugins.iter().flat_map(|p| {
        Failure::ALL.map(|kind| {
            let count = p.stats.failure_kinds.get(kind.label()).copied().unwrap_or(0);
            ([("plugin", p.plugin.name.as_str()), ("kind", kind.label())], count)
        })
    });
    counters(
        out,
        "plugin_failures",
        "Failed plugin calls by kind: timeout, instructions, trap, memory_cap, over_limit, host_limit, error",
        None,
        by_kind,
    )
}

/// Whether each loaded plugin is quarantined, and what it is.
fn plugin_states(out: &mut DescriptorEncoder<'_>, live: &Published) -> fmt::Result {
    gauges(
        out,
        "plugin_quarantined",
        "1 while the circuit breaker holds the plugin, else 0",
        live.plugins()
            .iter()
            .map(|p| ([("plugin", p.plugin.name.as_str())], i64::from(p.stats.quarantined))),
    )?;
    let info = live.plugins().iter().map(|p| {
        let labels = [
            ("plugin", p.plugin.name.as_str()),
            ("kind", p.plugin.kind),
            ("version", p.plugin.version.as_str()),
            ("hash", p.plugin.hash.as_str()),
        ];
        (labels, 1)
    });
    gauges(
        out,
        "plugin_info",
        "Loaded plugins (value 1), labelled with kind, version and content hash",
        info,
    )
}
