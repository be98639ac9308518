//! Market data sources. Each produces a [`Snapshot`] per cycle; the pipeline does the rest.

mod simulated;

pub use simulated::SimulatedMarket;

use anyhow::Result;

use crate::config::{Config, SourceKind};
use crate::market::Snapshot;

/// The configured source of market snapshots.
pub enum Source {
    /// The deterministic random walk, for running with nothing but memcached.
    Simulated(SimulatedMarket),
}

impl Source {
    /// Builds the source the config names.
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(match config.source {
            SourceKind::Simulated => Source::Simulated(SimulatedMarket::new(config.simulated.seed, config.symbols.0)),
        })
    }

    /// The source's name, as shown to plugins and in `pulse:status`.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Simulated(_) => "simulated",
        }
    }

    /// The market now.
    pub async fn snapshot(&mut self) -> Result<Snapshot> {
        match self {
            Source::Simulated(market) => Ok(market.step(now_ms())),
        }
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
