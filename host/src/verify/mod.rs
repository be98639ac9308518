//! `pulse verify`: reads the dashboard keys back from memcached, checks every documented
//! shape (`docs/cache-keys.md`) and the relations between keys, and says what it found.
//!
//! The keys are read as the shared schema (`pulse-keys`) the bundled dashboard writes them
//! with; its types deny unknown fields, so a renamed field (`change` for `change_24h`) is
//! caught as surely as a missing one.

mod checks;
mod sparklines;

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Result};
use pulse_keys::{Breadth, Movers, Overview, Signals, Sparklines, Tickers};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::cache::{resolve, ItemReader, Placement};
use crate::shared::clock::now_ms;
use crate::shared::entry::STATUS_KEY;

/// A plugin as `pulse:status` lists it, as far as verify reads it.
#[derive(Debug, Deserialize)]
struct PluginStatus {
    /// Its identity.
    name: String,
    /// The version it describes itself with.
    version: String,
    /// `analyzer` or `aggregator`.
    kind: String,
    /// The contract version it speaks; absent in the status of a daemon before 0.2.0.
    #[serde(default)]
    contract: Option<String>,
    /// When its last call started, Unix ms; `None` before its first.
    last_call: Option<i64>,
    /// Why its last call failed; `None` after a success.
    last_error: Option<String>,
}

/// `pulse:status`, as far as verify reads it (the host owns its shape).
#[derive(Debug, Deserialize)]
struct Status {
    /// The cycle that wrote it.
    cycle: u64,
    /// When it was written, Unix ms.
    timestamp_ms: i64,
    /// The market source.
    source: String,
    /// The TTL of the keys, seconds.
    ttl: u32,
    /// The loaded plugins.
    plugins: Vec<PluginStatus>,
    /// The writer's id and term, when it is one of an active/standby pair.
    #[serde(default)]
    ha: Option<Writer>,
}

/// The largest value read back: the dashboard's keys are well under memcached's default item
/// size of 1 MiB; a larger answer is a server gone wrong, refused before it is read.
const MAX_VALUE_BYTES: usize = 64 << 20;

/// The `ha` object of `pulse:status`, as far as verify reads it.
#[derive(Debug, Deserialize)]
struct Writer {
    /// The writer's id.
    id: String,
    /// The term it wrote in.
    term: i64,
}

/// Reads and checks the keys on `servers`; prints a summary and returns an error listing every
/// problem found.
pub async fn run(placement: Placement) -> Result<()> {
    let mut clients = Vec::new();
    for server in placement.servers() {
        resolve(server).await?;
        let reader = ItemReader::new(server, MAX_VALUE_BYTES, Duration::from_secs(2));
        clients.push(tokio::sync::Mutex::new(reader));
    }
    let reader = Reader {
        placement,
        clients,
        flags: Default::default(),
    };
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
    /// A reader per server, in the placement's order.
    clients: Vec<tokio::sync::Mutex<ItemReader>>,
    /// The client flags of every key read (a writer's term), and how many keys carried each.
    flags: std::sync::Mutex<std::collections::BTreeMap<u32, usize>>,
}

impl Reader {
    async fn raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut last_error = None;
        for server in self.placement.targets(key) {
            match self.clients[server].lock().await.get(key).await {
                Ok(item) => {
                    if let Some(item) = &item {
                        *self.flags.lock().unwrap().entry(item.flags).or_default() += 1;
                    }
                    return Ok(item.map(|item| item.value));
                }
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
        checks::overview(o, status.as_ref(), &mut out, problems);
    }
    checks::regime(regime.as_deref(), problems);
    if let Some(t) = &tickers {
        checks::tickers(reader, t, overview.as_ref(), problems).await?;
    }
    if let Some(m) = &movers {
        checks::movers(m, tickers.as_ref(), &mut out, problems);
    }
    if let Some(b) = &breadth {
        checks::breadth(b, overview.as_ref(), &mut out, problems);
    }
    if let Some(s) = &signals {
        checks::signals(s, &mut out, problems);
    }
    // Dashboards of contract 0.1.0 have no candles, so no sparklines; later ones must write them.
    let sparklines_due = status.as_ref().is_some_and(|s| {
        s.plugins
            .iter()
            .any(|p| p.name == "dashboard" && p.contract.as_deref().is_some_and(|c| c != "0.1.0"))
    });
    if sparklines_due || reader.raw(pulse_keys::SPARKLINES).await?.is_some() {
        if let Some(lines) = reader.json::<Sparklines>(pulse_keys::SPARKLINES, problems).await? {
            sparklines::check(&lines, tickers.as_ref(), overview.as_ref(), &mut out, problems);
        }
    }
    if let Some(writer) = status.as_ref().and_then(|s| s.ha.as_ref()) {
        terms(writer, &reader.flags.lock().unwrap(), &mut out, problems);
    }
    Ok(out)
}

/// The writer of an active/standby pair and the terms the keys were written in (their client
/// flags): a key of a later term than `pulse:status` means an older leader wrote the status
/// after a newer one wrote that key.
fn terms(
    writer: &Writer,
    flags: &std::collections::BTreeMap<u32, usize>,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    let term = crate::cache::item_flags(writer.term);
    let count = |keep: &dyn Fn(u32) -> bool| flags.iter().filter(|(f, _)| keep(**f)).map(|(_, n)| n).sum::<usize>();
    let (now, older, later) = (count(&|f| f == term), count(&|f| f < term), count(&|f| f > term));
    let _ = writeln!(
        out,
        "writer    {} in term {}: {now} keys of this term, {older} of older terms",
        writer.id, writer.term
    );
    if later > 0 {
        let newest = flags.keys().next_back().copied().unwrap_or_default();
        problems.push(format!(
            "{later} keys were written in a later term ({newest}) than {STATUS_KEY} (term {}, by {}): \
             an older leader wrote after a newer one",
            writer.term, writer.id
        ));
    }
}
