//! `pulse verify`: reads the dashboard keys back from memcached, checks every documented
//! shape (`docs/cache-keys.md`) and the relations between keys, and says what it found.
//!
//! The keys are read as the shared schema (`pulse-keys`) the bundled dashboard writes them
//! with; its types deny unknown fields, so a renamed field (`change` for `change_24h`) is
//! caught as surely as a missing one.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use memcache::exp::{AsyncMetaClient, Get, MetaClientBuilder};
use pulse_keys::{
    Breadth, Breakdown, Mover, Movers, Overview, Signals, Tickers, BREADTH_SENTIMENTS, REGIMES, SIGNAL_NAMES,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::cache::Placement;
use crate::shared::clock::now_ms;
use crate::shared::entry::STATUS_KEY;

// Fields that are only type-checked are never read back.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct PluginStatus {
    name: String,
    version: String,
    kind: String,
    last_call: Option<i64>,
    last_error: Option<String>,
}

// Fields that are only type-checked are never read back.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct Status {
    cycle: u64,
    timestamp_ms: i64,
    source: String,
    ttl: u32,
    plugins: Vec<PluginStatus>,
}

/// Reads and checks the keys on `servers`; prints a summary and returns an error listing every
/// problem found.
pub async fn run(placement: Placement) -> Result<()> {
    let mut clients = Vec::new();
    for server in placement.servers() {
        let client = MetaClientBuilder::new()
            .connect_timeout(Some(Duration::from_secs(2)))
            .io_timeout(Some(Duration::from_secs(2)))
            .connect_async(server.as_str())
            .await
            .with_context(|| format!("cannot resolve memcached address {server}"))?;
        clients.push(client);
    }
    let reader = Reader { placement, clients };
    let mut problems = Vec::new();
    let summary = check_all(&reader, &mut problems).await?;
    print!("{summary}");
    if problems.is_empty() {
        println!("OK: every key is present, fresh and well-formed");
        Ok(())
    } else {
        for p in &problems {
            println!("PROBLEM: {p}");
        }
        bail!("{} problem(s) found", problems.len())
    }
}

/// Reads each key from the server the writer put it on (the first that answers, when mirrored).
struct Reader {
    placement: Placement,
    clients: Vec<AsyncMetaClient>,
}

impl Reader {
    async fn raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut last_error = None;
        for server in self.placement.targets(key) {
            match self.clients[server].run(Get::new(key)).await {
                Ok(result) => return Ok(result.value),
                Err(e) => {
                    last_error = Some(anyhow::Error::from(e).context(format!(
                        "cannot read {key} from memcached {}",
                        self.placement.servers()[server]
                    )))
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no memcached server for {key}")))
    }

    /// Reads `key` as `T`; a missing or malformed value is recorded as a problem.
    async fn json<T: DeserializeOwned>(&self, key: &str, problems: &mut Vec<String>) -> Result<Option<T>> {
        Ok(match self.raw(key).await? {
            None => {
                problems.push(format!("{key} is missing"));
                None
            }
            Some(bytes) => match serde_json::from_slice(&bytes) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(format!("{key} is malformed: {e}"));
                    None
                }
            },
        })
    }
}

async fn check_all(reader: &Reader, problems: &mut Vec<String>) -> Result<String> {
    let mut out = String::new();
    let status: Option<Status> = reader.json(STATUS_KEY, problems).await?;
    if let Some(s) = &status {
        let age_ms = now_ms() - s.timestamp_ms;
        let _ = writeln!(
            out,
            "status    cycle {}, {:.1} s old (ttl {} s), source {}, plugins: {}",
            s.cycle,
            age_ms as f64 / 1000.0,
            s.ttl,
            s.source,
            s.plugins
                .iter()
                .map(|p| format!("{} {} ({})", p.name, p.version, p.kind))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if age_ms > i64::from(s.ttl) * 1000 {
            problems.push(format!("{STATUS_KEY} is stale: {age_ms} ms old, ttl {} s", s.ttl));
        }
        for p in &s.plugins {
            if let Some(e) = &p.last_error {
                problems.push(format!("plugin {} failed its last call: {e}", p.name));
            } else if p.last_call.is_none() {
                problems.push(format!("plugin {} has not been called yet", p.name));
            }
        }
    }

    let overview: Option<Overview> = reader.json(pulse_keys::OVERVIEW, problems).await?;
    let tickers: Option<Tickers> = reader.json(pulse_keys::TICKERS, problems).await?;
    let movers: Option<Movers> = reader.json(pulse_keys::MOVERS, problems).await?;
    let breadth: Option<Breadth> = reader.json(pulse_keys::BREADTH, problems).await?;
    let signals: Option<Signals> = reader.json(pulse_keys::SIGNALS, problems).await?;
    let regime = reader
        .raw(pulse_keys::REGIME)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned());

    if let Some(o) = &overview {
        let _ = writeln!(
            out,
            "market    {} symbols, regime {} (trend strength {:.0}), avg change {:+.2} %, BTC dominance {:.1} %",
            o.total_symbols, o.market_regime, o.trend_strength, o.average_change_24h, o.btc_dominance
        );
        in_range(problems, "market:overview.trend_strength", o.trend_strength, 0.0, 100.0);
        in_range(problems, "market:overview.btc_dominance", o.btc_dominance, 0.0, 100.0);
        in_range(
            problems,
            "market:overview.current_volatility",
            o.current_volatility,
            0.0,
            f64::MAX,
        );
        in_range(
            problems,
            "market:overview.total_volume_24h",
            o.total_quote_volume_24h,
            0.0,
            f64::MAX,
        );
        if o.stale {
            problems.push(format!(
                "market:overview is stale: the source failed and its snapshot is {:.1} s old",
                o.snapshot_age_ms as f64 / 1000.0
            ));
        }
        if !REGIMES.contains(&o.market_regime.as_ref()) {
            problems.push(format!(
                "market:overview.market_regime {:?} is not one of {REGIMES:?}",
                o.market_regime
            ));
        }
        if let Some(s) = &status {
            if o.cycle + 1 < s.cycle {
                problems.push(format!(
                    "market:overview is from cycle {}, status is at {}",
                    o.cycle, s.cycle
                ));
            }
        }
    }
    match (&regime, &overview) {
        (None, _) => problems.push("analysis:market_regime is missing".into()),
        (Some(r), _) if !REGIMES.contains(&r.as_str()) => {
            problems.push(format!("analysis:market_regime {r:?} is not one of {REGIMES:?}"))
        }
        _ => {}
    }

    if let Some(t) = &tickers {
        if let Some(o) = &overview {
            if t.is_empty() || t.len() > o.total_symbols {
                problems.push(format!(
                    "market:tickers has {} symbols for a market of {}",
                    t.len(),
                    o.total_symbols
                ));
            }
        }
        for (symbol, ticker) in t {
            if !SIGNAL_NAMES.contains(&ticker.signal.as_ref()) {
                problems.push(format!("market:tickers.{symbol}.signal {:?} is unknown", ticker.signal));
            }
            if !(ticker.low_24h <= ticker.price && ticker.price <= ticker.high_24h) {
                problems.push(format!("market:tickers.{symbol}: price outside its 24 h range"));
            }
            if ticker.quote_volume_24h < 0.0 || ticker.score.is_some_and(|s| !(0.0..=100.0).contains(&s)) {
                problems.push(format!(
                    "market:tickers.{symbol}: negative volume or score outside 0..100"
                ));
            }
        }
        for symbol in t.keys() {
            let key = pulse_keys::breakdown_key(symbol);
            if let Some(b) = reader.json::<Breakdown>(&key, problems).await? {
                if &b.symbol != symbol || !SIGNAL_NAMES.contains(&b.signal.as_ref()) {
                    problems.push(format!("{key}: wrong symbol or unknown signal"));
                }
                for (name, v) in &b.analyzers {
                    if v.score.is_some() != v.signal.is_some() {
                        problems.push(format!(
                            "{key}: analyzer {name} has a score without a signal or vice versa"
                        ));
                    }
                }
            }
        }
    }

    if let Some(m) = &movers {
        let line = |list: &[Mover]| {
            list.iter()
                .map(|m| format!("{} {:+.2} %", m.symbol, m.change_24h))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "gainers   {}", line(&m.gainers));
        let _ = writeln!(out, "losers    {}", line(&m.losers));
        if m.gainers.windows(2).any(|w| w[0].change_24h < w[1].change_24h)
            || m.gainers.iter().any(|g| g.change_24h <= 0.0)
        {
            problems.push("market:movers.gainers must be positive changes, largest first".into());
        }
        if m.losers.windows(2).any(|w| w[0].change_24h > w[1].change_24h)
            || m.losers.iter().any(|l| l.change_24h >= 0.0)
        {
            problems.push("market:movers.losers must be negative changes, most negative first".into());
        }
        if m.gainers.len() > 5 || m.losers.len() > 5 {
            problems.push("market:movers lists more than 5 gainers or losers".into());
        }
        for mover in m.gainers.iter().chain(&m.losers) {
            if tickers.as_ref().is_some_and(|t| !t.contains_key(&mover.symbol)) {
                problems.push(format!(
                    "market:movers names {} which market:tickers lacks",
                    mover.symbol
                ));
            }
        }
    }

    if let Some(b) = &breadth {
        let _ = writeln!(
            out,
            "breadth   {} up / {} down / {} flat, {:.0} % ({})",
            b.up_count, b.down_count, b.flat_count, b.breadth_percentage, b.market_sentiment
        );
        if let Some(o) = &overview {
            if b.up_count + b.down_count + b.flat_count != o.total_symbols {
                problems.push("market:breadth counts do not add up to market:overview.total_symbols".into());
            }
        }
        in_range(
            problems,
            "market:breadth.breadth_percentage",
            b.breadth_percentage,
            0.0,
            100.0,
        );
        if !BREADTH_SENTIMENTS.contains(&b.market_sentiment.as_ref()) {
            problems.push(format!(
                "market:breadth.market_sentiment {:?} is unknown",
                b.market_sentiment
            ));
        }
    }

    if let Some(s) = &signals {
        let top: Vec<String> = s
            .signals
            .iter()
            .take(5)
            .map(|e| format!("{} {:.1} {}", e.symbol, e.score, e.signal))
            .collect();
        let _ = writeln!(out, "signals   {} scored; top: {}", s.count, top.join(", "));
        if s.count != s.signals.len() || s.count > s.symbols_scored {
            problems.push(format!(
                "analysis:signals.count is {} but it lists {}",
                s.count,
                s.signals.len()
            ));
        }
        if s.signals.windows(2).any(|w| w[0].score < w[1].score) {
            problems.push("analysis:signals is not sorted by score, highest first".into());
        }
        for e in &s.signals {
            if !SIGNAL_NAMES.contains(&e.signal.as_ref()) || !REGIMES.contains(&e.sentiment.as_ref()) {
                problems.push(format!(
                    "analysis:signals entry {} has an unknown signal or sentiment",
                    e.symbol
                ));
            }
            in_range(
                problems,
                &format!("analysis:signals {} score", e.symbol),
                e.score,
                0.0,
                100.0,
            );
        }
    }
    Ok(out)
}

fn in_range(problems: &mut Vec<String>, what: &str, value: f64, low: f64, high: f64) {
    if !(low..=high).contains(&value) {
        problems.push(format!("{what} is {value}, outside {low}..{high}"));
    }
}
