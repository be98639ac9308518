//! Market data sources. Each yields a [`Snapshot`] per cycle; the pipeline does the rest.

mod exchange;
mod record;
mod replay;
mod simulated;

pub use exchange::ExchangeSource;
pub use record::Recorder;
pub use replay::Replay;
pub use simulated::SimulatedMarket;

use anyhow::{bail, Result};
use tracing::warn;

use crate::config::{Config, Exchange, SourceSpec};
use crate::shared::clock::now_ms;
use crate::shared::market::Snapshot;

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
