//! The daemon's Prometheus metrics: what operators graph and alert on, served at `/metrics`.
//!
//! Names follow Prometheus conventions (`pulse_` prefix, base units, `_total` on counters);
//! docs/operations.md lists them. Two kinds are served: measurements of the source no other
//! part keeps (polls, rejected rows, snapshot age), recorded here as they happen, and the
//! counters other parts own (cycles, per-plugin counts and call durations, cache totals),
//! which [`PublishedCollector`] reads from the last published cycle at scrape time.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::collector::PublishedCollector;
use super::live::Published;
use crate::shared::candle::CandleFetches;
use crate::shared::market::{Rejections, ROW_DEFECTS};
use crate::shared::stream_health::{GapReason, StreamHealth};

/// Label pairs of one series.
type Labels = Vec<(&'static str, String)>;

/// The registry that encodes every metric the daemon exports, and the source measurements
/// recorded into it.
pub struct Metrics {
    /// Encodes everything below, and the published counters.
    registry: Registry,
    /// Snapshots requested, by source.
    source_polls: Family<Labels, Counter>,
    /// Snapshots that failed, by source.
    source_failures: Family<Labels, Counter>,
    /// Market rows dropped by validation, by reason.
    source_rows_rejected: Family<Labels, Counter>,
    /// Candles from the source dropped by validation, by reason.
    source_candles_rejected: Family<Labels, Counter>,
    /// Kline requests sent, by source.
    source_kline_requests: Family<Labels, Counter>,
    /// Kline requests that failed, by source.
    source_kline_failures: Family<Labels, Counter>,
    /// Age of the last good snapshot, in seconds.
    snapshot_age: Gauge<f64, AtomicU64>,
    /// A streaming source's connections, symbols and counts.
    stream: StreamSeries,
}

/// A streaming source's series, each labelled by source.
#[derive(Default)]
struct StreamSeries {
    /// Connections open and answering.
    connections: Family<Labels, Gauge>,
    /// The longest send-to-read time of the messages since the last snapshot, in seconds.
    lag: Family<Labels, Gauge<f64, AtomicU64>>,
    /// Symbols by state: `live` (gap-free), `gap`, and `stale` (left out of the snapshot).
    symbols: Family<Labels, Gauge>,
    /// Gaps, by reason.
    gaps: Family<Labels, Counter>,
    /// Symbols made gap-free again by a REST answer.
    resyncs: Family<Labels, Counter>,
    /// Connections opened again.
    reconnects: Family<Labels, Counter>,
    /// Connections replaced, make-before-break.
    rotations: Family<Labels, Counter>,
    /// Messages read.
    messages: Family<Labels, Counter>,
    /// Messages dropped, by reason.
    rejected: Family<Labels, Counter>,
    /// Ticker fields a REST answer corrected.
    corrected: Family<Labels, Counter>,
}

impl StreamSeries {
    /// Registers every series in `r`.
    fn register(&self, r: &mut Registry) {
        r.register(
            "stream_connections",
            "A streaming source's connections open and answering",
            self.connections.clone(),
        );
        r.register_with_unit(
            "stream_lag",
            "The longest a stream message read since the last snapshot took from the exchange's send to its reading",
            Unit::Seconds,
            self.lag.clone(),
        );
        r.register(
            "stream_symbols",
            "A streaming source's symbols by state: live (gap-free), gap (waiting for a resync), stale (data older than max_age, left out)",
            self.symbols.clone(),
        );
        r.register(
            "stream_gaps",
            "Symbols whose data stopped being gap-free, by reason",
            self.gaps.clone(),
        );
        r.register(
            "stream_resyncs",
            "Symbols made gap-free again by a REST answer",
            self.resyncs.clone(),
        );
        r.register(
            "stream_reconnects",
            "Stream connections opened again after one was lost",
            self.reconnects.clone(),
        );
        r.register(
            "stream_rotations",
            "Stream connections replaced, their successor subscribed and delivering before they closed",
            self.rotations.clone(),
        );
        r.register("stream_messages", "Stream messages read", self.messages.clone());
        r.register(
            "stream_messages_rejected",
            "Stream messages dropped, by reason",
            self.rejected.clone(),
        );
        r.register(
            "stream_corrected_fields",
            "Ticker fields a REST reconciliation found stale in the streams and corrected",
            self.corrected.clone(),
        );
    }
}

impl Metrics {
    /// Registers every metric, at zero, with the counters of `live` read at each scrape.
    pub(super) fn new(live: Arc<Mutex<Published>>) -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("pulse"),
            source_polls: Family::default(),
            source_failures: Family::default(),
            source_rows_rejected: Family::default(),
            source_candles_rejected: Family::default(),
            source_kline_requests: Family::default(),
            source_kline_failures: Family::default(),
            snapshot_age: Gauge::<f64, AtomicU64>::default(),
            stream: StreamSeries::default(),
        };
        let r = &mut m.registry;
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
        for reason in ROW_DEFECTS {
            m.source_rows_rejected
                .get_or_create(&vec![("reason", reason.to_string())])
                .inc_by(0);
        }
        r.register(
            "source_candles_rejected",
            "Candles from the source dropped by validation, by reason",
            m.source_candles_rejected.clone(),
        );
        r.register(
            "source_kline_requests",
            "Candle (kline) requests an exchange source sent, retries included",
            m.source_kline_requests.clone(),
        );
        r.register(
            "source_kline_failures",
            "Candle (kline) requests that failed: no answer, an error status, or a body that does not parse",
            m.source_kline_failures.clone(),
        );
        r.register_with_unit(
            "snapshot_age",
            "Age of the last good market snapshot (0 when the last cycle's was fresh; time since start when there was none)",
            Unit::Seconds,
            m.snapshot_age.clone(),
        );
        m.stream.register(r);
        r.register_collector(Box::new(PublishedCollector(live)));
        m
    }

    /// The metrics in the text exposition format (OpenMetrics, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
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
        count_by_reason(&self.source_rows_rejected, rejected);
    }

    /// Counts candles dropped by validation, by reason.
    pub fn candles_rejected(&self, rejected: &Rejections) {
        count_by_reason(&self.source_candles_rejected, rejected);
    }

    /// Brings the kline counters of `source` up to the totals it reports.
    pub fn candle_fetches(&self, source: &str, fetches: CandleFetches) {
        let labels = vec![("source", source.to_string())];
        for (family, total) in [
            (&self.source_kline_requests, fetches.requests),
            (&self.source_kline_failures, fetches.failures),
        ] {
            let counter = family.get_or_create(&labels);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// Records a streaming source's state at its last snapshot.
    pub fn stream(&self, source: &str, health: &StreamHealth) {
        let s = &self.stream;
        let labels = |extra: Option<(&'static str, &str)>| {
            let mut l: Labels = vec![("source", source.to_string())];
            l.extend(extra.map(|(k, v)| (k, v.to_string())));
            l
        };
        let total = |family: &Family<Labels, Counter>, labels: Labels, total: u64| {
            let counter = family.get_or_create(&labels);
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        s.connections
            .get_or_create(&labels(None))
            .set(i64::from(health.connections));
        s.lag.get_or_create(&labels(None)).set(health.lag_ms as f64 / 1000.0);
        let counts = &health.counts;
        for (state, n) in [
            ("live", u64::from(health.symbols_live)),
            ("gap", u64::from(health.symbols_in_gap)),
            ("stale", counts.stale),
        ] {
            s.symbols
                .get_or_create(&labels(Some(("state", state))))
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for reason in GapReason::ALL {
            let n = counts.gaps.get(&reason).copied().unwrap_or(0);
            total(&s.gaps, labels(Some(("reason", reason.label()))), n);
        }
        for (reason, n) in &counts.rejected {
            total(&s.rejected, labels(Some(("reason", reason))), *n);
        }
        total(&s.resyncs, labels(None), counts.resyncs);
        total(&s.reconnects, labels(None), counts.reconnects);
        total(&s.rotations, labels(None), counts.rotations);
        total(&s.messages, labels(None), counts.messages);
        total(&s.corrected, labels(None), counts.corrected_fields);
    }

    /// Sets the age of the last good snapshot: 0 when the cycle's was fresh.
    pub fn snapshot_age(&self, seconds: f64) {
        self.snapshot_age.set(seconds);
    }
}

/// Adds each reason's count to its series of `family`.
fn count_by_reason(family: &Family<Labels, Counter>, rejected: &Rejections) {
    for (reason, count) in rejected {
        family
            .get_or_create(&vec![("reason", (*reason).to_string())])
            .inc_by(*count as u64);
    }
}
