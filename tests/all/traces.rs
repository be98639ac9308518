//! Traces over OTLP (`[telemetry]`): the real daemon sends each cycle as a trace to a loopback
//! receiver built on the official protobuf definitions, whose tree is read back whole; a
//! failed call's log line names the trace it is in; a collector that hangs costs dropped
//! spans, counted, and never a cycle, and is sent to again once it is back.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use pulse_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use pulse_testkit::{fixture_wasm, free_port, plugin_dir, scrape, wait_for, Daemon, Memcached};

/// A daemon on the bundled plugins and `extra` ones, at `interval` seconds, with `telemetry`
/// as its `[telemetry]` table; its config's folder and its plugins' live as long as it.
fn traced(
    memcached: &Memcached,
    extra: &[&str],
    interval: &str,
    telemetry: &str,
) -> (Daemon, tempfile::TempDir, tempfile::TempDir) {
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    for fixture in extra {
        std::fs::copy(fixture_wasm(fixture), plugins.path().join(format!("{fixture}.wasm"))).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulse.toml");
    std::fs::write(&config, format!("[telemetry]\n{telemetry}")).unwrap();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &[
            "--interval",
            interval,
            "--ttl",
            "10",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    (daemon, plugins, dir)
}

/// Each received span by id.
fn by_id(spans: &[ReceivedSpan]) -> BTreeMap<&str, &ReceivedSpan> {
    spans.iter().map(|s| (s.span_id.as_str(), s)).collect()
}

/// The children received of `parent`.
fn children<'a>(spans: &'a [ReceivedSpan], parent: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.parent_span_id == parent.span_id).collect()
}

/// A cycle span whose snapshot, four calls and write have all arrived.
fn whole_cycle(spans: &[ReceivedSpan]) -> Option<(ReceivedSpan, Vec<ReceivedSpan>)> {
    spans.iter().filter(|s| s.name == "cycle").find_map(|cycle| {
        let kids = children(spans, cycle);
        (kids.len() == 6).then(|| (cycle.clone(), kids.into_iter().cloned().collect()))
    })
}

fn metric(daemon: &Daemon, series: &str) -> f64 {
    scrape(&daemon.status_url()).get(series).copied().unwrap_or(0.0)
}

#[test]
fn each_cycle_is_a_trace_of_its_snapshot_plugin_calls_and_write() {
    let receiver = OtlpReceiver::start();
    let memcached = Memcached::start();
    let telemetry = format!(
        "endpoint = \"{}\"\nservice_name = \"pulse-traced\"\n",
        receiver.endpoint()
    );
    let (daemon, _plugins, _config) = traced(&memcached, &["fault_trap"], "0.5", &telemetry);
    let (cycle, kids) = wait_for("a whole cycle's trace", Duration::from_secs(30), || {
        whole_cycle(&receiver.spans())
    });
    assert!(receiver.refused().is_empty(), "{:?}", receiver.refused());

    // The root: one cycle of the simulated source, from a daemon that says who it is.
    assert_eq!(cycle.parent_span_id, "", "a cycle is a trace's root");
    assert_eq!(cycle.attribute("source"), Some("simulated"));
    assert_eq!(cycle.attribute("symbols"), Some("30"));
    assert_eq!(cycle.attribute("wrote"), Some("true"));
    assert!(cycle.attribute("cycle").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(
        cycle.resource.get("service.name").map(String::as_str),
        Some("pulse-traced")
    );
    assert!(cycle.resource.contains_key("service.version"), "{:?}", cycle.resource);
    assert!(
        cycle.resource.contains_key("service.instance.id"),
        "{:?}",
        cycle.resource
    );

    // Its children, each within it and of its trace.
    let named: BTreeMap<&str, &ReceivedSpan> = kids.iter().map(|s| (s.name.as_str(), s)).collect();
    let names: Vec<&str> = named.keys().copied().collect();
    assert_eq!(
        names,
        [
            "aggregator dashboard",
            "analyzer fault-trap",
            "analyzer trend",
            "analyzer volatility",
            "snapshot",
            "write"
        ]
    );
    for kid in &kids {
        assert_eq!(kid.trace_id, cycle.trace_id, "{kid:?}");
        assert!(
            kid.start_ns >= cycle.start_ns && kid.end_ns <= cycle.end_ns && kid.start_ns <= kid.end_ns,
            "{} lies outside its cycle: {kid:?} in {cycle:?}",
            kid.name
        );
    }
    let snapshot = named["snapshot"];
    assert_eq!(snapshot.attribute("outcome"), Some("fresh"));
    assert_eq!(snapshot.attribute("symbols"), Some("30"));

    let trend = named["analyzer trend"];
    assert_eq!(trend.attribute("plugin"), Some("trend"));
    assert_eq!(trend.attribute("kind"), Some("analyzer"));
    assert_eq!(trend.attribute("outcome"), Some("ok"));
    assert_eq!(trend.attribute("shadow"), Some("false"));
    assert_eq!(trend.attribute("symbols"), Some("30"));
    assert!(!trend.attribute("version").unwrap().is_empty());
    assert!(trend.attribute("duration_ms").unwrap().parse::<f64>().unwrap() > 0.0);
    assert_ne!(trend.status_code, 2, "{trend:?}");
    let dashboard = named["aggregator dashboard"];
    assert_eq!(dashboard.attribute("kind"), Some("aggregator"));
    assert_eq!(dashboard.attribute("outcome"), Some("ok"));
    // Aggregators start once the analyzers are done.
    assert!(dashboard.start_ns >= trend.end_ns, "{dashboard:?} before {trend:?}");

    let trap = named["analyzer fault-trap"];
    assert_eq!(trap.attribute("outcome"), Some("trap"));
    assert_eq!(trap.status_code, 2, "a failed call is an error span: {trap:?}");
    assert!(!trap.status_message.is_empty());

    let write = named["write"];
    let keys: usize = write.attribute("keys").unwrap().parse().unwrap();
    assert!(keys >= 5, "{write:?}");
    assert_eq!(write.attribute("written"), Some(keys.to_string().as_str()));
    assert_eq!(write.attribute("failed"), Some("0"));
    assert_eq!(write.attribute("servers"), Some("1"));
    assert!(write.attribute("bytes").unwrap().parse::<u64>().unwrap() > 1000);
    assert!(write.start_ns >= dashboard.end_ns, "the write follows the calls");

    // The failed call's log line names its trace, which the collector holds.
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("analyzer failed") && l.contains("fault-trap"))
        .unwrap_or_else(|| panic!("no failure line:\n{log}"));
    let trace_id: String = line
        .split("trace_id=")
        .nth(1)
        .unwrap_or_else(|| panic!("no trace id in {line}"))
        .trim_start_matches('"')
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(trace_id.len(), 32, "{line}");
    wait_for(
        "the failed call's trace at the collector",
        Duration::from_secs(10),
        || {
            receiver
                .spans()
                .iter()
                .any(|s| s.trace_id == trace_id && s.name == "analyzer fault-trap" && s.status_code == 2)
                .then_some(())
        },
    );
    let spans = receiver.spans();
    let ids = by_id(&spans);
    let orphans: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name != "cycle" && !ids.contains_key(s.parent_span_id.as_str()))
        .filter(|s| s.end_ns < cycle.end_ns)
        .collect();
    assert!(orphans.is_empty(), "spans without their cycle: {orphans:?}");
    // Log lines stay events: no span context in them.
    assert!(!log.contains("cycle{"), "a log line carries a span:\n{log}");
    // Each span received is counted once the receiver's answer is read.
    let received = spans.len() as f64;
    wait_for(
        "the spans received counted as exported",
        Duration::from_secs(10),
        || (metric(&daemon, "pulse_trace_spans_exported_total") >= received).then_some(()),
    );
    assert_eq!(
        metric(&daemon, "pulse_trace_spans_dropped_total{reason=\"queue full\"}"),
        0.0
    );
}

#[test]
fn a_collector_that_hangs_costs_counted_spans_and_never_a_cycle_and_is_taken_up_again() {
    // The collector's port accepts connections and never answers: each export waits its
    // timeout, and the spans of the cycles meanwhile pile up to the queue's bound.
    let port = free_port();
    let hanging = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let memcached = Memcached::start();
    let telemetry = format!("endpoint = \"http://127.0.0.1:{port}\"\ntimeout_ms = 8000\nqueue_spans = 64\n");
    let (daemon, _plugins, _config) = traced(&memcached, &[], "0.5", &telemetry);
    wait_for("spans dropped at the full queue", Duration::from_secs(30), || {
        (metric(&daemon, "pulse_trace_spans_dropped_total{reason=\"queue full\"}") >= 1.0).then_some(())
    });
    // Meanwhile the cycles keep their cadence.
    let (cycles, t0) = (metric(&daemon, "pulse_cycles_total"), Instant::now());
    std::thread::sleep(Duration::from_secs(4));
    let ran = metric(&daemon, "pulse_cycles_total") - cycles;
    let due = t0.elapsed().as_secs_f64() / 0.5;
    assert!(
        ran >= due - 3.0,
        "{ran} cycles in {:.1} s at 0.5 s",
        t0.elapsed().as_secs_f64()
    );
    wait_for("the hung batch dropped and counted", Duration::from_secs(20), || {
        (metric(&daemon, "pulse_trace_batches_dropped_total") >= 1.0).then_some(())
    });
    assert!(metric(&daemon, "pulse_trace_spans_dropped_total{reason=\"export failed\"}") >= 1.0);
    wait_for("the failed batch said", Duration::from_secs(5), || {
        daemon.log().contains("did not take a batch").then_some(())
    });
    assert!(
        daemon.log().contains("newer spans are dropped and counted"),
        "{}",
        daemon.log()
    );

    // The collector comes back where it was: spans flow again, and the log says so.
    drop(hanging);
    let receiver = OtlpReceiver::start_on(port);
    wait_for(
        "spans at the collector once it is back",
        Duration::from_secs(30),
        || whole_cycle_any(&receiver.spans()),
    );
    wait_for("the recovery said", Duration::from_secs(10), || {
        daemon.log().contains("takes spans again").then_some(())
    });
    assert!(metric(&daemon, "pulse_trace_spans_exported_total") >= 1.0);
}

/// A cycle span with at least its snapshot and write received.
fn whole_cycle_any(spans: &[ReceivedSpan]) -> Option<()> {
    spans
        .iter()
        .filter(|s| s.name == "cycle")
        .any(|cycle| children(spans, cycle).len() >= 2)
        .then_some(())
}
