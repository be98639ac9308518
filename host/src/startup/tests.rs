//! The cycle at unit level, wired as every command wires it: the simulated source and the real
//! bundled plugins, with the entries kept in memory instead of written to memcached (the
//! integration tests do that).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cache::MemorySink;
use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::plugin::{HostKey, Reloader};
use crate::shared::entry::{ValidEntry, STATUS_KEY};
use crate::source::Source;

/// The target directory the test command builds plugins into.
fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// A pipeline over `config` serving the bundled plugins named, writing to memory. The
/// reloader is returned to keep the generation it published.
fn pipeline(mut config: Config, plugins: &[&str]) -> (Pipeline, MemorySink, Reloader, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for name in plugins {
        let built = target().join(format!("wasm32-wasip2/release/{name}.wasm"));
        assert!(
            built.is_file(),
            "{} is missing: run scripts/build-plugins",
            built.display()
        );
        std::fs::copy(&built, dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    config.plugin_dir = dir.path().to_path_buf();
    config.compile_cache = Some(target().join("test-compile-cache"));
    // The shared test key, made once, so the compile cache stays warm.
    HostKey::for_tests();
    config.host_key = Some(target().join("test-keys/host.key"));
    let (reloader, feed) = super::load_plugins(&config).unwrap();
    let sink = MemorySink::default();
    let source = Source::from_config(&config).unwrap();
    let pipeline = super::pipeline(&config, source, feed, Box::new(sink.clone()));
    (pipeline, sink, reloader, dir)
}

/// `pulse:status` among `entries`, parsed.
fn status(entries: &[ValidEntry]) -> Value {
    let status = entries
        .iter()
        .find(|e| e.key == STATUS_KEY)
        .expect("pulse:status is written every cycle");
    serde_json::from_slice(&status.value).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_plugin_a_cycle_writes_only_the_status() {
    let (mut pipeline, sink, _reloader, _dir) = pipeline(Config::default(), &[]);
    let summary = pipeline.run_cycle().await.expect("the simulated source never ends");
    let (facts, write) = (&summary.facts, &summary.write.report);
    assert_eq!((facts.cycle, facts.symbols, write.written), (1, 30, 1));
    let entries = sink.cycle(1);
    assert_eq!(entries.len(), 1);
    let status = status(&entries);
    assert_eq!(
        (status["cycle"].as_u64(), status["symbols"].as_u64()),
        (Some(1), Some(30))
    );
    assert_eq!(status["stale"], false);
    assert_eq!(status["plugins"], Value::Array(Vec::new()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_plugins_write_every_dashboard_key_and_each_call_is_counted() {
    let (mut pipeline, sink, _reloader, _dir) = pipeline(Config::default(), &["trend", "volatility", "dashboard"]);
    for cycle in 1..=2 {
        let summary = pipeline.run_cycle().await.unwrap();
        let (facts, write) = (&summary.facts, &summary.write.report);
        assert_eq!((facts.cycle, facts.dropped, write.failed), (cycle, 0, 0));
    }
    let entries = sink.cycle(2);
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    for key in pulse_keys::FIXED_KEYS {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let breakdowns = keys
        .iter()
        .filter(|k| k.starts_with(pulse_keys::BREAKDOWN_PREFIX))
        .count();
    assert_eq!(breakdowns, 30);
    let overview: pulse_keys::Overview =
        serde_json::from_slice(&entries.iter().find(|e| e.key == pulse_keys::OVERVIEW).unwrap().value).unwrap();
    assert_eq!((overview.cycle, overview.total_symbols), (2, 30));
    let status = status(&entries);
    let plugins = status["plugins"].as_array().unwrap();
    let names: Vec<&str> = plugins.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["trend", "volatility", "dashboard"]);
    for p in plugins {
        assert_eq!((p["calls"].as_u64(), p["failures"].as_u64()), (Some(2), Some(0)), "{p}");
    }
    let summary = pipeline.status().summary();
    assert!(summary.lines().count() == 3 && summary.contains("2 calls"), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_failing_before_any_snapshot_writes_a_stale_status_and_no_market_key() {
    let config = Config::from_toml(
        "source = \"bybit\"\n[market]\nexchange_url = \"http://127.0.0.1:1\"\n\
         exchange_ws_url = \"ws://127.0.0.1:1\"\nrequest_timeout_ms = 500\n",
    )
    .unwrap();
    let (mut pipeline, sink, _reloader, _dir) = pipeline(config, &["trend", "volatility", "dashboard"]);
    let summary = pipeline.run_cycle().await.unwrap();
    let (facts, write) = (&summary.facts, &summary.write.report);
    assert_eq!((facts.cycle, facts.symbols, write.written), (1, 0, 1));
    let entries = sink.cycle(1);
    assert_eq!(entries.len(), 1, "only pulse:status");
    let status = status(&entries);
    assert_eq!(status["stale"], true);
    assert!(
        status["source_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );
    assert_eq!(status["source"], "bybit");
}
