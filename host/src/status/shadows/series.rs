//! The shadows on `/metrics`: calls by outcome, and the last cycle's agreement and score
//! deltas, from what each cycle published.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::super::prometheus::{counters, family};
use super::ShadowStatus;

/// The shadows' series: calls by outcome, and the last cycle's agreement and score deltas.
pub(in crate::status) fn encode(out: &mut DescriptorEncoder<'_>, shadows: &[ShadowStatus]) -> fmt::Result {
    let calls = shadows.iter().flat_map(|s| {
        [
            ([("plugin", s.plugin.name.as_str()), ("outcome", "ok")], s.calls_ok),
            (
                [("plugin", s.plugin.name.as_str()), ("outcome", "failed")],
                s.calls_failed,
            ),
        ]
    });
    counters(
        out,
        "shadow_calls",
        "Calls of shadow versions, by outcome; a shadow's failures never count against the serving plugin",
        None,
        calls,
    )?;
    let gauge = |out: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: fn(&ShadowStatus) -> Option<f64>| {
        let series = shadows
            .iter()
            .filter_map(|s| Some(([("plugin", s.plugin.name.as_str())], value(s)?)));
        family(out, name, help, None, MetricType::Gauge, series, |v, m| {
            ConstGauge::new(v).encode(m)
        })
    };
    gauge(
        out,
        "shadow_agreement_ratio",
        "In the last cycle, the share of symbols (analyzers) or keys (aggregators) on which the shadow and the serving version agree",
        |s| s.agreement,
    )?;
    gauge(
        out,
        "shadow_score_delta_mean",
        "In the last cycle, the shadow's mean score less the serving version's, over symbols both scored",
        |s| s.verdicts.as_ref()?.mean_delta(),
    )?;
    gauge(
        out,
        "shadow_score_delta_max_abs",
        "In the last cycle, the largest absolute score difference between the shadow and the serving version",
        |s| {
            s.verdicts
                .as_ref()
                .filter(|v| v.both_scored > 0)
                .map(|v| v.abs_delta_max)
        },
    )
}
