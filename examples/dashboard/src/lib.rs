//! A reference dashboard for Pulse: reads the keys a dashboard needs from memcached and serves
//! one mobile-first page (`/`) plus the JSON it renders (`/api/dashboard`).
//!
//! It knows Pulse only through its keys: their names from `pulse-keys` and their fields as
//! docs/cache-keys.md documents them. It takes any JSON object a key holds and shows the fields
//! it knows, so a field added by a newer daemon changes nothing here (`pulse verify` is the
//! strict reader). When `pulse:status` is old or missing, or the market source is failing, the
//! JSON carries a `stale` reason and the page shows a "data stale since …" banner; a missing
//! value is shown as "—", never as 0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use memcache::exp::{AsyncMemcache, MemcacheBuilder};
use serde::Serialize;
use serde_json::Value;

/// The keys the page reads, in one round trip.
pub const KEYS: [&str; 7] = [
    pulse_keys::STATUS,
    pulse_keys::OVERVIEW,
    pulse_keys::BREADTH,
    pulse_keys::MOVERS,
    pulse_keys::SIGNALS,
    pulse_keys::REGIME,
    pulse_keys::SPARKLINES,
];

/// How many of `analysis:signals` the page lists.
pub const TOP_SIGNALS: usize = 8;

/// How long one read of memcached may take before the page reports it unreachable.
const READ_TIMEOUT: Duration = Duration::from_millis(800);

/// The page: HTML, CSS and script in one file, so the binary is all there is to deploy.
const PAGE: &str = include_str!("page.html");

/// What the page renders: the keys' values as read, the data's age and why it is stale.
#[derive(Debug, Serialize)]
pub struct View {
    /// When the keys were read, Unix ms (the dashboard server's clock).
    pub now_ms: i64,
    /// Why the data cannot be trusted as current; `None` when it is fresh.
    pub stale: Option<Stale>,
    /// `pulse:status`'s cycle.
    pub cycle: Option<u64>,
    /// Age of `pulse:status` when read, ms.
    pub data_age_ms: Option<i64>,
    /// The daemon's market source.
    pub source: Option<String>,
    /// `analysis:market_regime`.
    pub regime: Option<String>,
    /// `market:overview`.
    pub overview: Option<Value>,
    /// `market:breadth`.
    pub breadth: Option<Value>,
    /// `market:movers`.
    pub movers: Option<Value>,
    /// The first [`TOP_SIGNALS`] of `analysis:signals`, highest score first.
    pub signals: Option<Vec<Value>>,
    /// `market:sparklines`' lines, by symbol: drawn beside each signal and mover that has one.
    pub sparklines: Option<Value>,
}

/// Why the data is stale, and since when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale {
    /// The time of the last fresh data, Unix ms; `None` if none was seen since start.
    pub since_ms: Option<i64>,
    /// What is wrong, for people.
    pub reason: String,
}

/// Reads the keys and remembers when the data was last fresh.
pub struct Dashboard {
    cache: AsyncMemcache,
    addr: String,
    last_fresh_ms: Mutex<Option<i64>>,
}

impl Dashboard {
    /// A dashboard reading memcached at `addr` (`HOST:PORT`). Connections are made lazily, so
    /// it starts, and says so on the page, while memcached is down.
    pub async fn connect(addr: &str) -> Result<Self> {
        let cache = MemcacheBuilder::new()
            .timeout(READ_TIMEOUT)
            .connect_timeout(READ_TIMEOUT)
            .connect_async([addr])
            .await
            .with_context(|| format!("cannot resolve memcached address {addr}"))?;
        Ok(Self {
            cache,
            addr: addr.to_string(),
            last_fresh_ms: Mutex::new(None),
        })
    }

    /// Reads the keys once and builds the view.
    pub async fn view(&self) -> View {
        let read = self.cache.get_many::<Vec<u8>, &str>(KEYS).await;
        let now_ms = now_ms();
        let mut last_fresh = self.last_fresh_ms.lock().unwrap_or_else(|e| e.into_inner());
        let values = match read {
            Ok(values) => values,
            Err(e) => {
                return View::empty(
                    now_ms,
                    Stale {
                        since_ms: *last_fresh,
                        reason: format!("cannot read memcached at {}: {e}", self.addr),
                    },
                )
            }
        };
        let keys = Keys::parse(values);
        let stale = staleness(keys.status.as_ref(), keys.overview.is_some(), now_ms, *last_fresh);
        let status = keys.status.as_ref();
        if stale.is_none() {
            *last_fresh = status.and_then(|s| s["timestamp_ms"].as_i64());
        }
        View {
            now_ms,
            stale,
            cycle: status.and_then(|s| s["cycle"].as_u64()),
            data_age_ms: status.and_then(|s| s["timestamp_ms"].as_i64()).map(|t| now_ms - t),
            source: status.and_then(|s| s["source"].as_str()).map(String::from),
            regime: keys.regime,
            overview: keys.overview,
            breadth: keys.breadth,
            movers: keys.movers,
            signals: keys.signals,
            sparklines: keys.sparklines,
        }
    }

    /// The page and its JSON endpoint.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route("/api/dashboard", get(api))
            .with_state(self)
    }
}

async fn api(State(dashboard): State<Arc<Dashboard>>) -> impl IntoResponse {
    Json(dashboard.view().await)
}

impl View {
    fn empty(now_ms: i64, stale: Stale) -> Self {
        Self {
            now_ms,
            stale: Some(stale),
            cycle: None,
            data_age_ms: None,
            source: None,
            regime: None,
            overview: None,
            breadth: None,
            movers: None,
            signals: None,
            sparklines: None,
        }
    }
}

/// The keys' values, each a JSON object as documented; a value that is not one is treated as
/// missing rather than shown wrong.
struct Keys {
    status: Option<Value>,
    overview: Option<Value>,
    breadth: Option<Value>,
    movers: Option<Value>,
    signals: Option<Vec<Value>>,
    sparklines: Option<Value>,
    regime: Option<String>,
}

impl Keys {
    fn parse(mut values: HashMap<&str, Vec<u8>>) -> Self {
        let mut json = |key: &str| {
            values
                .remove(key)
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .filter(Value::is_object)
        };
        let status = json(pulse_keys::STATUS);
        let overview = json(pulse_keys::OVERVIEW);
        let breadth = json(pulse_keys::BREADTH);
        let movers = json(pulse_keys::MOVERS);
        let signals = json(pulse_keys::SIGNALS).and_then(|s| match s.get("signals") {
            Some(Value::Array(list)) => Some(list.iter().take(TOP_SIGNALS).cloned().collect()),
            _ => None,
        });
        let sparklines = json(pulse_keys::SPARKLINES).and_then(|s| s.get("symbols").cloned());
        let regime = values
            .remove(pulse_keys::REGIME)
            .and_then(|bytes| String::from_utf8(bytes).ok());
        Self {
            status,
            overview,
            breadth,
            movers,
            signals,
            sparklines,
            regime,
        }
    }
}

/// Why data described by `status` (read at `now_ms`) is stale, or `None` when it is fresh.
/// `last_fresh_ms` is the last fresh status's time, for when the status itself is gone.
pub fn staleness(status: Option<&Value>, has_market: bool, now_ms: i64, last_fresh_ms: Option<i64>) -> Option<Stale> {
    let Some(status) = status else {
        return Some(Stale {
            since_ms: last_fresh_ms,
            reason: "pulse:status is missing: the daemon is stopped or cannot write to memcached".into(),
        });
    };
    let written_ms = status["timestamp_ms"].as_i64().unwrap_or(0);
    let interval_ms = status["interval_ms"].as_i64().unwrap_or(2000);
    // One missed cycle is tolerated (a cycle may overrun); two are not.
    let age_ms = now_ms - written_ms;
    if age_ms > 2 * interval_ms + 1000 {
        return Some(Stale {
            since_ms: Some(written_ms),
            reason: format!(
                "no update from the daemon for {:.0} s (it writes every {:.1} s)",
                age_ms as f64 / 1000.0,
                interval_ms as f64 / 1000.0
            ),
        });
    }
    if status["stale"].as_bool() == Some(true) {
        let error = status["source_error"].as_str().unwrap_or("unknown error");
        return Some(Stale {
            since_ms: status["snapshot_timestamp_ms"].as_i64().or(last_fresh_ms),
            reason: format!("the market source is failing ({error}); showing its last good snapshot"),
        });
    }
    if !has_market {
        return Some(Stale {
            since_ms: last_fresh_ms,
            reason: "the daemon runs but writes no market keys (no aggregator, or no recent snapshot)".into(),
        });
    }
    None
}

/// Wall-clock time, Unix ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fresh_only_while_the_status_is_recent_and_the_source_works() {
        let status = json!({"timestamp_ms": 100_000, "interval_ms": 2000, "stale": false});
        assert_eq!(staleness(Some(&status), true, 104_000, None), None);

        let old = staleness(Some(&status), true, 106_000, None).unwrap();
        assert_eq!(old.since_ms, Some(100_000));
        assert!(
            old.reason.contains("no update from the daemon for 6 s"),
            "{}",
            old.reason
        );

        let missing = staleness(None, false, 106_000, Some(99_000)).unwrap();
        assert_eq!(missing.since_ms, Some(99_000));
        assert!(missing.reason.contains("pulse:status is missing"));

        let failing = json!({"timestamp_ms": 100_000, "interval_ms": 2000, "stale": true,
            "source_error": "HTTP 500", "snapshot_timestamp_ms": 90_000});
        let failing = staleness(Some(&failing), true, 100_500, None).unwrap();
        assert_eq!(failing.since_ms, Some(90_000));
        assert!(failing.reason.contains("HTTP 500"));

        let no_market = staleness(Some(&status), false, 100_500, Some(98_000)).unwrap();
        assert!(no_market.reason.contains("no market keys"));
    }
}
