//! The counters of `/metrics` that other parts own, read at scrape time: cycles from the
//! pipeline's published record, per-plugin counts and call durations from the status board,
//! cache totals from the cache writer. Nothing here counts; it only encodes what [`Published`] holds, so each number
//! has one owner and `pulse:status`, `/plugins` and `/metrics` cannot disagree.

use std::fmt;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::live::Published;
use super::prometheus::{counter, counters, gauges};
use crate::shared::trace_export::TRACE_EXPORT;
use crate::shared::write_stats::WriterStats;

/// Encodes the published record's counters on each scrape.
#[derive(Debug)]
pub(super) struct PublishedCollector(pub(super) Arc<Mutex<Published>>);

impl Collector for PublishedCollector {
    fn encode(&self, mut out: DescriptorEncoder<'_>) -> fmt::Result {
        let live = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cycles(&mut out, &live)?;
        super::plugin_series::encode(&mut out, &live)?;
        cache(&mut out, &live)?;
        super::shadows::encode(&mut out, live.shadows())?;
        super::evaluation_series::encode(&mut out, live.plugins(), live.shadows())?;
        super::leadership::encode(&mut out, live.ha())?;
        traces(&mut out)
    }
}

/// The trace export's counters (`[telemetry]`), zero while traces are off.
fn traces(out: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let counts = TRACE_EXPORT.counts();
    counter(
        out,
        "trace_spans_exported",
        "Spans the OTLP collector accepted",
        None,
        counts.exported,
    )?;
    counters(
        out,
        "trace_spans_dropped",
        "Spans never sent: the export queue was full (queue full), or their batch failed (export failed)",
        None,
        [
            ([("reason", "queue full")], counts.dropped_queue_full),
            ([("reason", "export failed")], counts.dropped_export_failed),
        ],
    )?;
    counter(
        out,
        "trace_batches_dropped",
        "Batches of spans the OTLP collector refused or left unanswered past the export timeout, each dropped whole",
        None,
        counts.batches_failed,
    )
}

/// The cycle counters, the cycle duration histogram and the last full push.
fn cycles(out: &mut DescriptorEncoder<'_>, live: &Published) -> fmt::Result {
    let metric = out.encode_descriptor(
        "cycle_duration",
        "Time from snapshot to the end of the cache write, per cycle",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    live.cycle_duration.encode(metric)?;
    counter(out, "cycles", "Cycles run", None, live.cycles())?;
    counter(
        out,
        "cycles_skipped",
        "Interval ticks skipped because a cycle overran its interval",
        None,
        live.skipped_ticks,
    )?;
    let last_push = live.last_push.map_or(0.0, |(_, unix_ms)| unix_ms as f64 / 1000.0);
    let metric = out.encode_descriptor(
        "last_push_timestamp",
        "Unix time of the last cycle whose cache write fully succeeded (0 before the first)",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    ConstGauge::new(last_push).encode(metric)
}

/// The cache writer's totals and server states.
fn cache(out: &mut DescriptorEncoder<'_>, live: &Published) -> fmt::Result {
    let empty = WriterStats::default();
    let stats = live.cache().unwrap_or(&empty);
    counter(
        out,
        "cache_keys_written",
        "Cache entries stored",
        None,
        stats.keys_written,
    )?;
    counter(
        out,
        "cache_written",
        "Value bytes of the cache entries stored",
        Some(&Unit::Bytes),
        stats.bytes_written,
    )?;
    counters(
        out,
        "cache_write_errors",
        "Cache entries not stored, by kind of error",
        None,
        stats.errors.iter().map(|(kind, n)| ([("kind", *kind)], *n)),
    )?;
    counter(
        out,
        "cache_reconnects",
        "Reconnections to memcached servers",
        None,
        stats.reconnects,
    )?;
    gauges(
        out,
        "cache_server_up",
        "1 while the memcached server accepts writes, else 0",
        stats
            .servers
            .iter()
            .map(|s| ([("server", s.addr.as_str())], i64::from(s.up))),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::RollbackConfig;
    use crate::shared::call::{CallOutcome, Failure, PluginFacts};
    use crate::shared::write_stats::{ServerState, WriterStats};
    use crate::status::{CycleSummary, StatusBoard, Telemetry};
    use std::sync::Arc;

    fn facts(name: &str) -> PluginFacts {
        PluginFacts {
            file: format!("/plugins/{name}.wasm"),
            ..PluginFacts::example(name, &"ab".repeat(32))
        }
    }

    fn outcome(failure: Option<Failure>) -> CallOutcome {
        CallOutcome {
            started_ms: 0,
            duration_ms: 1.0,
            error: failure.map(|f| f.label().to_string()),
            failure,
            log_dropped_lines: 2,
            log_dropped_bytes: 100,
            instructions: None,
        }
    }

    /// The value of the series `name` in an encoded scrape.
    fn value(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// Telemetry that published cycle 3 of plugin `a` (a call that worked, one over its memory
    /// cap, one over a limit; 4 outputs dropped) and of a writer with errors and a server down.
    fn published_cycle_three() -> Telemetry {
        let telemetry = Telemetry::new(Duration::from_secs(2), Duration::from_secs(10));
        let mut board = StatusBoard::new(5, RollbackConfig::default());
        let fingerprint = facts("a").fingerprint;
        for (cycle, failure) in [(1, None), (2, Some(Failure::MemoryCap)), (3, Some(Failure::OverLimit))] {
            assert!(board.admits("a", &fingerprint, cycle));
            board.record("a", cycle, &outcome(failure));
        }
        board.dropped("a", 4);
        let mut cache = WriterStats {
            keys_written: 7,
            bytes_written: 700,
            reconnects: 1,
            ..WriterStats::default()
        };
        cache.errors.insert("timeout", 3);
        cache.servers.push(ServerState {
            addr: "127.0.0.1:1".into(),
            up: false,
        });
        telemetry.ticks_skipped(2);
        let mut summary = CycleSummary::default();
        summary.facts.cycle = 3;
        summary.facts.plugins = board.plugins([facts("a")].into_iter(), |_| None);
        summary.write.seconds = 0.004;
        summary.write.cache = cache;
        summary.write.wrote = true;
        telemetry.cycle_done(Arc::new(summary));
        telemetry
    }

    #[test]
    fn before_any_cycle_the_cycle_count_is_zero_and_no_plugin_has_series() {
        let telemetry = Telemetry::new(Duration::from_secs(2), Duration::from_secs(10));
        let empty = telemetry.metrics.encode();
        assert_eq!(value(&empty, "pulse_cycles_total"), Some(0.0), "{empty}");
        assert!(!empty.contains("pulse_plugin_calls_total"), "{empty}");
    }

    #[test]
    fn counters_are_read_from_the_published_cycle_and_agree_with_the_board() {
        let telemetry = published_cycle_three();
        let text = telemetry.metrics.encode();
        let expect = [
            ("pulse_cycles_total", 3.0),
            ("pulse_cycle_duration_seconds_count", 1.0),
            ("pulse_cycles_skipped_total", 2.0),
            ("pulse_plugin_calls_total{plugin=\"a\"}", 3.0),
            (
                "pulse_plugin_call_duration_seconds_count{plugin=\"a\",kind=\"analyzer\"}",
                3.0,
            ),
            ("pulse_plugin_traps_total{plugin=\"a\"}", 1.0),
            ("pulse_plugin_timeouts_total{plugin=\"a\"}", 0.0),
            ("pulse_plugin_errors_total{plugin=\"a\"}", 1.0),
            ("pulse_plugin_failures_total{plugin=\"a\",kind=\"memory_cap\"}", 1.0),
            ("pulse_plugin_failures_total{plugin=\"a\",kind=\"over_limit\"}", 1.0),
            ("pulse_plugin_failures_total{plugin=\"a\",kind=\"timeout\"}", 0.0),
            ("pulse_plugin_dropped_outputs_total{plugin=\"a\"}", 4.0),
            ("pulse_plugin_log_dropped_lines_total{plugin=\"a\"}", 6.0),
            ("pulse_plugin_log_dropped_bytes_total{plugin=\"a\"}", 300.0),
            ("pulse_plugin_quarantined{plugin=\"a\"}", 0.0),
            ("pulse_cache_keys_written_total", 7.0),
            ("pulse_cache_written_bytes_total", 700.0),
            ("pulse_cache_write_errors_total{kind=\"timeout\"}", 3.0),
            ("pulse_cache_reconnects_total", 1.0),
            ("pulse_cache_server_up{server=\"127.0.0.1:1\"}", 0.0),
        ];
        for (series, want) in expect {
            assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
        }
        let info = format!(
            "pulse_plugin_info{{plugin=\"a\",kind=\"analyzer\",version=\"1.0.0\",hash=\"{}\"}}",
            "ab".repeat(32)
        );
        assert_eq!(value(&text, &info), Some(1.0), "{text}");
        assert!(value(&text, "pulse_last_push_timestamp_seconds").is_some_and(|t| t > 0.0));
    }

    #[test]
    fn a_plugin_no_longer_loaded_leaves_no_series_behind() {
        let telemetry = published_cycle_three();
        let mut summary = CycleSummary::default();
        summary.facts.cycle = 4;
        summary.write.seconds = 0.004;
        summary.write.report.failed = 1;
        summary.write.report.first_error = Some("server_down".into());
        summary.write.wrote = true;
        telemetry.cycle_done(Arc::new(summary));
        let text = telemetry.metrics.encode();
        assert!(!text.contains("plugin=\"a\""), "{text}");
        assert_eq!(value(&text, "pulse_cycle_duration_seconds_count"), Some(2.0));
    }
}
