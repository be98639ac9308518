//! Cold start: from spawning `pulse run` to the first push (`pulse:status` in memcached), with
//! an empty compile cache and then with the cache the first run left.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::harness::{bundled_plugins, client, start_daemon, wait_until};
use crate::Options;

/// Runs with an empty cache, then warm (`--quick`: the same, once each).
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let plugins = bundled_plugins()?;
    let cache = tempfile::tempdir()?;
    let client = client(&options.memcached)?;
    let mut results = Vec::new();
    for cache_state in ["empty", "warm"] {
        let _ = client.delete("pulse:status").send();
        let log = plugins.path().join(format!(".pulse-{cache_state}.log"));
        let started = Instant::now();
        let _daemon = start_daemon(
            log,
            &[
                "--plugins",
                plugins.path().to_str().context("temp path is not UTF-8")?,
                "--memcached",
                &options.memcached,
                "--compile-cache",
                cache.path().to_str().context("temp path is not UTF-8")?,
            ],
        )?;
        wait_until("the first push", Duration::from_secs(60), || {
            client.get("pulse:status").send().is_ok_and(|r| r.value.is_some())
        })?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        eprintln!("cold-start with an {cache_state} compile cache: {ms:.0} ms to the first push (goal warm <= 1000)");
        results.push(json!({
            "scenario": "cold-start",
            "compile_cache": cache_state,
            "start_to_first_push_ms": ms,
        }));
    }
    Ok(results)
}
