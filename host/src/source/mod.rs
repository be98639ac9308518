//! Market data sources. Each yields a [`Snapshot`] per cycle; the pipeline does the rest.

mod exchange;
mod record;
mod replay;
mod simulated;

pub use exchange::{Exchange, ExchangeSource};
pub use record::Recorder;
pub use replay::{Replay, ReplayEnd};
pub use simulated::SimulatedMarket;

use std::fmt;
use std::path::PathBuf;

use anyhow::{bail, Result};
use tracing::warn;

use crate::config::Config;
use crate::market::Snapshot;

/// Which source, as written in `--source` or the config: `simulated`, `replay:FILE`, `bybit`
/// (linear), `bybit:spot`, `binance`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum SourceSpec {
    /// The deterministic simulated market.
    Simulated,
    /// A recorded market.
    Replay(PathBuf),
    /// A live exchange.
    Exchange(Exchange),
}

impl TryFrom<String> for SourceSpec {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for SourceSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "simulated" => SourceSpec::Simulated,
            "bybit" | "bybit:linear" => SourceSpec::Exchange(Exchange::BybitLinear),
            "bybit:spot" => SourceSpec::Exchange(Exchange::BybitSpot),
            "binance" => SourceSpec::Exchange(Exchange::Binance),
            _ => match text.strip_prefix("replay:") {
                Some(path) if !path.is_empty() => SourceSpec::Replay(PathBuf::from(path)),
                _ => {
                    return Err(format!(
                        "unknown source {text:?}: expected simulated, replay:FILE, bybit, bybit:spot or binance"
                    ))
                }
            },
        })
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Simulated => f.write_str("simulated"),
            SourceSpec::Replay(path) => write!(f, "replay:{}", path.display()),
            SourceSpec::Exchange(Exchange::BybitLinear) => f.write_str("bybit"),
            SourceSpec::Exchange(Exchange::BybitSpot) => f.write_str("bybit:spot"),
            SourceSpec::Exchange(Exchange::Binance) => f.write_str("binance"),
        }
    }
}

/// Where snapshots come from.
enum Kind {
    Simulated(SimulatedMarket),
    Replay(Replay),
    Exchange(ExchangeSource),
}

/// The configured source, recording what it yields if asked to.
pub struct Source {
    kind: Kind,
    name: &'static str,
    recorder: Option<Recorder>,
}

impl Source {
    /// Builds the source the config names.
    pub fn from_config(config: &Config) -> Result<Self> {
        let market = &config.market;
        let (kind, name) = match &config.source {
            SourceSpec::Simulated => (
                Kind::Simulated(SimulatedMarket::new(&config.simulated, config.symbols.0)),
                "simulated",
            ),
            SourceSpec::Replay(path) => (Kind::Replay(Replay::open(path, market.replay_end)?), "replay"),
            SourceSpec::Exchange(exchange) => {
                let timeout = config.request_timeout();
                let source = ExchangeSource::new(*exchange, market.exchange_url.as_deref(), timeout)?;
                let name = match exchange {
                    Exchange::BybitLinear => "bybit",
                    Exchange::BybitSpot => "bybit:spot",
                    Exchange::Binance => "binance",
                };
                (Kind::Exchange(source), name)
            }
        };
        if market.speed.0 != 1.0 && !matches!(kind, Kind::Replay(_)) {
            bail!("market.speed applies to replay sources only");
        }
        let recorder = market.record.as_deref().map(Recorder::create).transpose()?;
        Ok(Self { kind, name, recorder })
    }

    /// The source's name, as shown to plugins and in `pulse:status`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The market now; `None` when a replay has ended.
    pub async fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        let snapshot = match &mut self.kind {
            Kind::Simulated(market) => Some(market.step(now_ms())),
            Kind::Replay(replay) => replay.next_snapshot()?,
            Kind::Exchange(exchange) => Some(exchange.snapshot(now_ms()).await?),
        };
        if let (Some(recorder), Some(snapshot)) = (&mut self.recorder, &snapshot) {
            if let Err(e) = recorder.write(snapshot) {
                warn!("recording stopped: {e:#}");
                self.recorder = None;
            }
        }
        Ok(snapshot)
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs_parse_and_print_back() {
        for text in ["simulated", "replay:/tmp/m.jsonl", "bybit", "bybit:spot", "binance"] {
            let spec: SourceSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!("bybit:linear".parse::<SourceSpec>().unwrap().to_string(), "bybit");
        assert!("kraken"
            .parse::<SourceSpec>()
            .unwrap_err()
            .contains("expected simulated"));
        assert!("replay:".parse::<SourceSpec>().is_err());
    }
}
