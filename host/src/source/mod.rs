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

/// Which kind of source yields the snapshots.
enum Origin {
    /// The deterministic simulated market.
    Simulated(SimulatedMarket),
    /// A recording, replayed.
    Replay(Replay),
    /// An exchange's public tickers.
    Exchange(ExchangeSource),
}

/// The configured source, recording what it yields if asked to.
pub struct Source {
    /// Which source, and its state.
    origin: Origin,
    /// Its name, as plugins and `pulse:status` show it.
    name: &'static str,
    /// Where each snapshot is recorded, if asked.
    recorder: Option<Recorder>,
}

impl Source {
    /// Builds the source the config names.
    pub fn from_config(config: &Config) -> Result<Self> {
        let market = &config.market;
        let (origin, name) = match &config.source {
            SourceSpec::Simulated => (
                Origin::Simulated(SimulatedMarket::new(&config.simulated, config.symbols.0)),
                "simulated",
            ),
            SourceSpec::Replay(path) => (Origin::Replay(Replay::open(path, market.replay_end)?), "replay"),
            SourceSpec::Exchange(exchange) => {
                let timeout = config.request_timeout();
                let source = ExchangeSource::new(*exchange, market.exchange_url.as_deref(), timeout)?;
                let name = match exchange {
                    Exchange::BybitLinear => "bybit",
                    Exchange::BybitSpot => "bybit:spot",
                    Exchange::Binance => "binance",
                };
                (Origin::Exchange(source), name)
            }
        };
        if market.speed.0 != 1.0 && !matches!(origin, Origin::Replay(_)) {
            bail!("market.speed applies to replay sources only");
        }
        let recorder = market.record.as_deref().map(Recorder::create).transpose()?;
        Ok(Self { origin, name, recorder })
    }

    /// The source's name, as shown to plugins and in `pulse:status`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The market now; `None` when a replay has ended.
    pub async fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        let snapshot = match &mut self.origin {
            Origin::Simulated(market) => Some(market.snapshot(now_ms())),
            Origin::Replay(replay) => replay.snapshot()?,
            Origin::Exchange(exchange) => Some(exchange.snapshot(now_ms()).await?),
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
