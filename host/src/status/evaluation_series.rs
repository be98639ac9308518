//! The evaluation on `/metrics`: each analyzer version's figures per horizon, serving and
//! shadow, as gauges labelled by plugin, version, role and horizon. A shadow's are its figures
//! on the samples it shares with the serving version, so the two can be set side by side.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::board::PluginStatus;
use super::prometheus::family;
use super::shadows::ShadowStatus;
use crate::shared::evidence::Figures;

/// The labels of one version's figures at one horizon.
type Labels<'a> = [(&'static str, &'a str); 4];

/// One gauge: its name, help, and how it is read from the figures.
type Gauge = (&'static str, &'static str, fn(&Figures) -> Option<f64>);

const GAUGES: [Gauge; 6] = [
    (
        "evaluation_rank_ic",
        "Mean over sample times of Spearman's correlation across symbols between score and forward return",
        |f| f.rank_ic.mean,
    ),
    ("evaluation_rank_ic_stderr", "Standard error of the mean rank IC", |f| {
        f.rank_ic.stderr
    }),
    ("evaluation_samples", "Sample times scored at this horizon", |f| {
        Some(f.samples as f64)
    }),
    (
        "evaluation_hit_ratio",
        "Share of directional verdicts whose symbol then moved their way",
        |f| f.hit_rate,
    ),
    (
        "evaluation_top_minus_bottom_bps",
        "Mean forward return of the top fifth by score less the bottom fifth's, in basis points",
        |f| f.top_minus_bottom_bps.mean,
    ),
    (
        "evaluation_coverage_ratio",
        "Share of the symbols sampled that got a verdict",
        |f| f.coverage,
    ),
];

/// Every scored version's gauges: the serving versions' since loaded, each shadow's on the
/// samples it shares with the serving version.
pub(super) fn encode(
    out: &mut DescriptorEncoder<'_>,
    plugins: &[PluginStatus],
    shadows: &[ShadowStatus],
) -> fmt::Result {
    let serving = plugins.iter().flat_map(|p| {
        p.evaluation
            .iter()
            .flatten()
            .map(|f| (labels(&p.plugin.name, &p.plugin.version, "serving", &f.horizon), f))
    });
    let shadow = shadows.iter().flat_map(|s| {
        s.evaluation.iter().flatten().map(|pair| {
            let f = &pair.shadow;
            (labels(&s.plugin.name, &s.plugin.version, "shadow", &f.horizon), f)
        })
    });
    let all: Vec<(Labels<'_>, &Figures)> = serving.chain(shadow).collect();
    for (name, help, read) in GAUGES {
        let series = all.iter().filter_map(|(labels, f)| Some((*labels, read(f)?)));
        family(out, name, help, None, MetricType::Gauge, series, |v, m| {
            ConstGauge::new(v).encode(m)
        })?;
    }
    Ok(())
}

fn labels<'a>(plugin: &'a str, version: &'a str, role: &'static str, horizon: &'a str) -> Labels<'a> {
    [
        ("plugin", plugin),
        ("version", version),
        ("role", role),
        ("horizon", horizon),
    ]
}
