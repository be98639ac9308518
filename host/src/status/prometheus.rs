//! Writing series into a Prometheus scrape: the few shapes the collector's counters take (one
//! series, or one per label set), so each encoder says only what it counts.

use std::fmt;

use prometheus_client::encoding::EncodeMetric;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

/// A counter with one series.
pub(super) fn counter(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> fmt::Result {
    ConstCounter::new(value).encode(out.encode_descriptor(name, help, unit, MetricType::Counter)?)
}

/// A counter with a series per label set.
pub(super) fn counters<S: EncodeLabelSet>(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl IntoIterator<Item = (S, u64)>,
) -> fmt::Result {
    family(out, name, help, unit, MetricType::Counter, series, |v, m| {
        ConstCounter::new(v).encode(m)
    })
}

/// A gauge with a series per label set.
pub(super) fn gauges<S: EncodeLabelSet>(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (S, i64)>,
) -> fmt::Result {
    family(out, name, help, None, MetricType::Gauge, series, |v, m| {
        ConstGauge::new(v).encode(m)
    })
}

/// One metric with a series per label set, declared even while it has none (no write error
/// yet, no scores yet): dashboards and alerts can name it from the first scrape.
pub(super) fn family<S: EncodeLabelSet, V>(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    series: impl IntoIterator<Item = (S, V)>,
    encode_value: impl Fn(V, MetricEncoder<'_>) -> fmt::Result,
) -> fmt::Result {
    let mut metric = out.encode_descriptor(name, help, unit, kind)?;
    for (labels, value) in series {
        encode_value(value, metric.encode_family(&labels)?)?;
    }
    Ok(())
}
