//! The daemon's Prometheus metrics: what operators graph and alert on, served at `/metrics`.
//!
//! Names follow Prometheus conventions (`pulse_` prefix, base units, `_total` on counters);
//! docs/operations.md lists them. Two kinds live here: measurements no other part keeps (call
//! durations, source polls and rejected rows, snapshot age), recorded as they happen, and the
//! counters other parts own (cycles, per-plugin counts, cache totals), which
//! [`LiveCollector`] reads from the last published cycle at scrape time.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::collector::LiveCollector;
use super::live::Live;
use crate::shared::market::Rejections;

/// Label pairs of one series.
type Labels = Vec<(&'static str, String)>;

/// A family of histograms that share buckets.
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Plugin call durations: 0.1 ms to ~3.3 s (deadlines are 250 ms by default).
fn call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Every metric the daemon exports, and the registry that encodes them.
pub struct Metrics {
    /// Encodes everything below, and the published counters.
    registry: Registry,
    /// Duration of each plugin call, by plugin and kind.
    plugin_call_duration: Histograms,
    /// Snapshots requested, by source.
    source_polls: Family<Labels, Counter>,
    /// Snapshots that failed, by source.
    source_failures: Family<Labels, Counter>,
    /// Market rows dropped by validation, by reason.
    source_rows_rejected: Family<Labels, Counter>,
    /// Age of the last good snapshot, in seconds.
    snapshot_age: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Registers every metric, at zero, with the counters of `live` read at each scrape.
    pub(super) fn new(live: Arc<Mutex<Live>>) -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("pulse"),
            plugin_call_duration: Histograms::new_with_constructor(call_histogram as fn() -> Histogram),
            source_polls: Family::default(),
            source_failures: Family::default(),
            source_rows_rejected: Family::default(),
            snapshot_age: Gauge::<f64, AtomicU64>::default(),
        };
        let r = &mut m.registry;
        r.register_with_unit(
            "plugin_call_duration",
            "Duration of plugin calls (fresh instance, init and the call)",
            Unit::Seconds,
            m.plugin_call_duration.clone(),
        );
        r.register("source_polls", "Market snapshots requested", m.source_polls.clone());
        r.register(
            "source_failures",
            "Market snapshots that failed (request, parse, or no usable row)",
            m.source_failures.clone(),
        );
        r.register(
            "source_rows_rejected",
            "Market rows dropped by validation, by reason",
            m.source_rows_rejected.clone(),
        );
        r.register_with_unit(
            "snapshot_age",
            "Age of the last good market snapshot (0 when the last cycle's was fresh; time since start when there was none)",
            Unit::Seconds,
            m.snapshot_age.clone(),
        );
        r.register_collector(Box::new(LiveCollector(live)));
        m
    }

    /// The metrics in the text exposition format (OpenMetrics, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// Records how long one call of `plugin` (an analyzer or aggregator, `kind`) took.
    pub fn call(&self, plugin: &str, kind: &'static str, seconds: f64) {
        let labels = vec![("plugin", plugin.to_string()), ("kind", kind.to_string())];
        self.plugin_call_duration.get_or_create(&labels).observe(seconds);
    }

    /// Records a snapshot request of `source` and whether it failed.
    pub fn poll(&self, source: &str, failed: bool) {
        let labels = vec![("source", source.to_string())];
        self.source_polls.get_or_create(&labels).inc();
        let failures = self.source_failures.get_or_create(&labels);
        if failed {
            failures.inc();
        }
    }

    /// Counts market rows dropped by validation, by reason.
    pub fn rejected(&self, rejected: &Rejections) {
        for (reason, count) in rejected {
            self.source_rows_rejected
                .get_or_create(&vec![("reason", (*reason).to_string())])
                .inc_by(*count as u64);
        }
    }

    /// Sets the age of the last good snapshot: 0 when the cycle's was fresh.
    pub fn snapshot_age(&self, seconds: f64) {
        self.snapshot_age.set(seconds);
    }
}
