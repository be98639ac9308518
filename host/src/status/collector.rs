//! The counters of `/metrics` that other parts own, read at scrape time: cycles from the
//! pipeline's published record, per-plugin counts and call durations from the status board,
//! cache totals from the cache writer. Nothing here counts; it only encodes what [`Live`] holds, so each number
//! has one owner and `pulse:status`, `/plugins` and `/metrics` cannot disagree.

use std::fmt;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::board::PluginStats;
use super::live::Live;
use super::prometheus::{counter, counters, family, gauges};
use crate::shared::call::Failure;
use crate::shared::write_stats::WriterStats;

/// Encodes the published record's counters on each scrape.
#[derive(Debug)]
pub(super) struct LiveCollector(pub(super) Arc<Mutex<Live>>);

impl Collector for LiveCollector {
    fn encode(&self, mut out: DescriptorEncoder<'_>) -> fmt::Result {
        let live = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cycles(&mut out, &live)?;
        plugins(&mut out, &live)?;
        cache(&mut out, &live)?;
        super::shadows::encode(&mut out, live.shadows())?;
        super::leadership::encode(&mut out, live.ha())
    }
}

/// The cycle counters, the cycle duration histogram and the last full push.
fn cycles(out: &mut DescriptorEncoder<'_>, live: &Live) -> fmt::Result {
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

/// Per-plugin series of the loaded versions, from the status board.
fn plugins(out: &mut DescriptorEncoder<'_>, live: &Live) -> fmt::Result {
    family(
        out,
        "plugin_call_duration",
        "Duration of plugin calls (fresh instance, init and the call)",
        Some(&Unit::Seconds),
        MetricType::Histogram,
        live.plugins().iter().map(|p| {
            (
                [("plugin", p.plugin.name.as_str()), ("kind", p.plugin.kind)],
                &p.stats.call_times,
            )
        }),
        |times, m| times.encode(m),
    )?;
    type Count = fn(&PluginStats) -> u64;
    let per_plugin: [(&str, &str, Option<Unit>, Count); 7] = [
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
            |s| s.failures.saturating_sub(s.traps + s.timeouts),
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
    for (name, help, unit, count) in per_plugin {
        let series = live
            .plugins()
            .iter()
            .map(|p| ([("plugin", p.plugin.name.as_str())], count(&p.stats)));
        counters(out, name, help, unit.as_ref(), series)?;
    }
    // Every kind's series exists from the plugin's load, at 0, so rate() sees its start.
    let by_kind = live.plugins().iter().flat_map(|p| {
        Failure::ALL.map(|kind| {
            let count = p.stats.failure_kinds.get(kind.label()).copied().unwrap_or(0);
            ([("plugin", p.plugin.name.as_str()), ("kind", kind.label())], count)
        })
    });
    counters(
        out,
        "plugin_failures",
        "Failed plugin calls by kind: timeout, trap, memory_cap, over_limit, host_limit, error",
        None,
        by_kind,
    )?;
    plugin_states(out, live)
}

/// Whether each loaded plugin is quarantined, and what it is.
fn plugin_states(out: &mut DescriptorEncoder<'_>, live: &Live) -> fmt::Result {
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

/// The cache writer's totals and server states.
fn cache(out: &mut DescriptorEncoder<'_>, live: &Live) -> fmt::Result {
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
    use crate::shared::call::{CallOutcome, Failure, Fingerprint, PluginFacts};
    use crate::shared::write_stats::{ServerState, WriterStats};
    use std::sync::Arc;

    use crate::status::{CycleSummary, StatusBoard, Telemetry};

    fn facts(name: &str) -> PluginFacts {
        PluginFacts {
            name: name.into(),
            kind: "analyzer",
            contract: "0.2.0",
            version: "1.0.0".into(),
            fingerprint: Fingerprint {
                hash: "ab".repeat(32),
                side_config: None,
                signature: None,
            },
            file: format!("/plugins/{name}.wasm"),
            loaded_at_ms: 0,
            peak_memory_bytes: 0,
            signer: None,
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
        }
    }

    /// The value of the series `name` in an encoded scrape.
    fn value(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn counters_are_read_from_the_published_cycle_and_agree_with_the_board() {
        let telemetry = Telemetry::new(Duration::from_secs(2), Duration::from_secs(10));
        let empty = telemetry.metrics.encode();
        assert_eq!(value(&empty, "pulse_cycles_total"), Some(0.0), "{empty}");
        assert!(!empty.contains("pulse_plugin_calls_total"), "{empty}");

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
        summary.facts.plugins = board.plugins([facts("a")].into_iter());
        summary.write.seconds = 0.004;
        summary.write.cache = cache;
        summary.write.wrote = true;
        telemetry.cycle_done(Arc::new(summary));

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

        // A plugin no longer loaded leaves no series behind.
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
