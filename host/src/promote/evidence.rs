//! `pulse promote NAME --if-better`: the gate before the rename. It reads the shadow's figures
//! from the daemon's status server (`/shadow/NAME`; with a pair, the leader's) and lets the
//! promotion go ahead only when the shadow's rank IC beats the serving version's at the chosen
//! horizon, on the same samples, by more than `margin` standard errors of the difference, after
//! at least `min_samples` sample times. The rename stays the authorisation: the gate only
//! reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::config::Span;
use crate::plugin::{PluginSource, SHADOW_DIR};
use crate::replay::evaluation::side_by_side;
use crate::shared::evidence::PairedFigures;
use crate::shared::identity::PluginId;
use crate::source::body;

/// The largest `/shadow/NAME` answer read: a shadow's record is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// How long the status server may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `pulse promote`'s flags for the gate.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Promote only if the shadow's rank IC beats the serving version's at `--horizon`, on the
    /// same samples, by more than `--margin` standard errors, after `--min-samples`; otherwise
    /// exit 1 with the figures.
    #[arg(long, requires = "status")]
    if_better: bool,
    /// The daemon's status address, `http://HOST:PORT`; for a pair, both, comma-separated (the
    /// leader's figures are read).
    #[arg(long, value_delimiter = ',')]
    status: Vec<String>,
    /// The horizon judged, one of `[evaluation] horizons`.
    #[arg(long, default_value = "5m", value_parser = |s: &str| Span::try_from(s.to_string()))]
    horizon: Span,
    /// The fewest sample times with both versions' rank IC.
    #[arg(long, default_value_t = 30)]
    min_samples: u64,
    /// How many standard errors of the difference the shadow must be better by.
    #[arg(long, default_value_t = 2.0)]
    margin: f64,
}

impl GateArgs {
    /// The gate asked for, if `--if-better` was given.
    pub fn gate(self) -> Option<Gate> {
        self.if_better.then_some(Gate {
            status: self.status,
            horizon: self.horizon,
            min_samples: self.min_samples,
            margin: self.margin,
        })
    }
}

/// What the gate asks of the evidence.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The daemons' status addresses (`http://HOST:PORT`); with more than one, the leader's is
    /// read.
    pub status: Vec<String>,
    /// The horizon judged.
    pub horizon: Span,
    /// The fewest sample times with both versions' rank IC.
    pub min_samples: u64,
    /// How many standard errors the difference must clear.
    pub margin: f64,
}

/// What the gate read and found.
#[derive(Debug)]
pub struct Judged {
    /// Whether the shadow is better by the gate's rule.
    pub better: bool,
    /// Both versions' figures side by side, and the reason.
    pub report: String,
}

/// The part of `/shadow/NAME` the gate reads.
#[derive(Debug, Deserialize)]
struct ShadowRecord {
    /// The shadow's version, as it describes itself.
    version: String,
    /// The SHA-256 of the shadow's file.
    hash: String,
    /// The serving version it is paired with, `VERSION@HASH12`.
    serving: Option<String>,
    /// Its figures beside the serving version's.
    evaluation: Option<Vec<PairedFigures>>,
}

/// Reads the evidence on `name` and judges it by `gate`, after checking that the figures are
/// about the files in `dir`: the shadow's file and the serving one the rename would replace.
pub async fn judge(name: &str, dir: &Path, gate: &Gate) -> Result<Judged> {
    if !(gate.margin.is_finite() && gate.margin >= 0.0) {
        bail!(
            "--margin must be a number of standard errors of at least 0, not {}",
            gate.margin
        );
    }
    let (url, record) = read_leader(name, &gate.status).await?;
    same_files(name, dir, &record)?;
    let serving = record.serving.as_deref().unwrap_or("none");
    let Some(pairs) = record.evaluation else {
        bail!(
            "{url} has no figures of {name} {} beside a serving version yet",
            record.version
        );
    };
    let horizon = gate.horizon.to_string();
    let Some(pair) = pairs.iter().find(|p| p.horizon == horizon) else {
        let scored: Vec<&str> = pairs.iter().map(|p| p.horizon.as_str()).collect();
        bail!(
            "the daemon does not score {name} at {horizon}; it scores at {} ([evaluation] horizons)",
            scored.join(", ")
        );
    };
    let d = &pair.rank_ic_difference;
    let table = side_by_side(name, serving, &record.version, std::slice::from_ref(pair));
    let covers_less = match (pair.shadow.coverage, pair.serving.coverage) {
        (Some(new), Some(old)) => new + 1e-9 < old,
        (new, old) => new.is_none() && old.is_some(),
    };
    let (better, reason) = match (d.mean, d.stderr) {
        _ if covers_less => (
            false,
            "the new version gives verdicts on fewer of the symbols than the serving one, so its rank IC is over easier ones"
                .to_string(),
        ),
        _ if d.samples < gate.min_samples => (
            false,
            format!(
                "only {} sample times scored both versions at {horizon}; at least {} are needed",
                d.samples, gate.min_samples
            ),
        ),
        (Some(mean), Some(se)) if mean - gate.margin * se > 0.0 => (
            true,
            format!(
                "the new version's rank IC is higher by {mean:.4}, more than {} standard errors ({se:.4}) above 0",
                gate.margin
            ),
        ),
        (Some(mean), Some(se)) => (
            false,
            format!(
                "the difference in rank IC, {mean:.4} ± {se:.4}, is not more than {} standard errors above 0",
                gate.margin
            ),
        ),
        _ => (false, format!("no difference in rank IC at {horizon} yet")),
    };
    Ok(Judged {
        better,
        report: format!("figures from {url}:\n{table}{reason}"),
    })
}

/// Fails unless `record` is about the files in `dir`: the shadow's file the one it measured,
/// the serving file the one it was paired with. A file written since, or one the daemon has not
/// staged yet, has no figures of its own.
fn same_files(name: &str, dir: &Path, record: &ShadowRecord) -> Result<()> {
    let id = PluginId::parse(name).with_context(|| format!("{name:?} is not a plugin name"))?;
    let hash_of = |path: Option<PathBuf>| -> Result<Option<String>> {
        path.map(|p| {
            Ok(PluginSource::read(&p)
                .with_context(|| format!("{}", p.display()))?
                .fingerprint
                .hash)
        })
        .transpose()
    };
    let shadow = hash_of(super::plugin_named(&dir.join(SHADOW_DIR), &id)?)?;
    if shadow.as_deref() != Some(record.hash.as_str()) {
        bail!(
            "the figures are about shadow {name} {} ({}), not the file in {}/{SHADOW_DIR} ({}): wait until the daemon \
             has staged it and scored it, then ask again",
            record.version,
            &record.hash[..12.min(record.hash.len())],
            dir.display(),
            shadow.as_deref().map_or("none", |h| &h[..12])
        );
    }
    let serving = hash_of(super::plugin_named(dir, &id)?)?;
    let paired = record
        .serving
        .as_deref()
        .and_then(|s| s.rsplit_once('@'))
        .map(|(_, h)| h);
    if let (Some(serving), Some(paired)) = (serving.as_deref(), paired) {
        if !serving.starts_with(paired) {
            bail!(
                "the figures pair the shadow with serving {paired}, not the file in {} ({}): wait until the daemon \
                 serves it and has scored both on its samples, then ask again",
                dir.display(),
                &serving[..12]
            );
        }
    }
    Ok(())
}

/// The shadow record of `name` from the one daemon of `status`, or from the leader of several.
async fn read_leader(name: &str, status: &[String]) -> Result<(String, ShadowRecord)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    let mut seen = Vec::new();
    for base in status {
        let url = format!("{}/shadow/{name}", base.trim_end_matches('/'));
        let (role, body) = match get(&client, &url).await {
            Ok(answer) => answer,
            Err(e) if status.len() > 1 => {
                seen.push(format!("{url}: {e:#}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let leads = role.as_deref().is_none_or(|r| r.starts_with("leader"));
        if status.len() == 1 && !leads {
            eprintln!(
                "warning: {base} stands by ({}); its figures are its own, from the same market as the leader's",
                role.as_deref().unwrap_or_default()
            );
        }
        if status.len() == 1 || leads {
            let record = serde_json::from_slice(&body)
                .with_context(|| format!("{url} did not answer with a shadow's record"))?;
            return Ok((url, record));
        }
        seen.push(format!("{url}: {}", role.unwrap_or_default()));
    }
    bail!("no leader among the daemons asked: {}", seen.join("; "))
}

/// GETs `url` within [`MAX_ANSWER_BYTES`] (as a source reads an exchange): its `Pulse-Role`
/// header and its body, if it answered 200.
async fn get(client: &reqwest::Client, url: &str) -> Result<(Option<String>, Vec<u8>)> {
    let (status, headers, answer) = body::answer(client, url, MAX_ANSWER_BYTES).await?;
    body::successful(url, status, &answer)?;
    let role = headers
        .get("pulse-role")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((role, answer))
}
