//! `pulse promote NAME --if-better`: the gate before the rename. It reads the shadow's figures
//! from the daemon's status server (`/shadow/NAME`; with a pair, the leader's) and lets the
//! promotion go ahead only when the shadow's rank IC beats the serving version's at the chosen
//! horizon, on the same samples, by more than `margin` standard errors of the difference, after
//! at least `min_samples` sample times. The rename stays the authorisation: the gate only
//! reads.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::config::Span;
use crate::replay::evaluation::side_by_side;
use crate::shared::evidence::PairedFigures;

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
    version: String,
    serving: Option<String>,
    evaluation: Option<Vec<PairedFigures>>,
}

/// Reads the evidence on `name` and judges it by `gate`.
pub async fn judge(name: &str, gate: &Gate) -> Result<Judged> {
    if !(gate.margin.is_finite() && gate.margin >= 0.0) {
        bail!(
            "--margin must be a number of standard errors of at least 0, not {}",
            gate.margin
        );
    }
    let (url, record) = read_leader(name, &gate.status).await?;
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
    let (better, reason) = match (d.mean, d.stderr) {
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
        if status.len() == 1 || leads {
            let record = serde_json::from_slice(&body)
                .with_context(|| format!("{url} did not answer with a shadow's record"))?;
            return Ok((url, record));
        }
        seen.push(format!("{url}: {}", role.unwrap_or_default()));
    }
    bail!("no leader among the daemons asked: {}", seen.join("; "))
}

/// GETs `url` within [`MAX_ANSWER_BYTES`]: its `Pulse-Role` header and its body, if it answered
/// 200.
async fn get(client: &reqwest::Client, url: &str) -> Result<(Option<String>, Vec<u8>)> {
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot GET {url}"))?;
    let status = response.status();
    let role = response
        .headers()
        .get("pulse-role")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.with_context(|| format!("cannot read {url}"))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            bail!("{url} answered with more than {MAX_ANSWER_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        bail!("{url} answered {status}: {}", String::from_utf8_lossy(&body).trim());
    }
    Ok((role, body))
}
