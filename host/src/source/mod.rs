//! Market data sources. Each yields a [`Snapshot`] per cycle; the pipeline does the rest.
//!
//! A source is a file of this folder that implements [`MarketSource`] and offers a
//! [`Registration`]: its name in `--source`, and how to open it from the config. [`SOURCES`]
//! lists them, a line each; that list is all `--source` knows, its help included. An exchange
//! is one file implementing `dialect::Dialect` (its requests, its answers, its pace) and
//! `stream::wire::Wire` (its streams), streamed by `stream/` or polled by `exchange.rs`, its
//! candles paced by `backfill.rs`, and its line here.

mod backfill;
mod binance;
pub mod body;
mod bybit;
mod dialect;
mod exchange;
mod record;
mod replay;
mod simulated;
mod simulated_candles;
mod stream;
mod walk;

pub use record::Recorder;
pub use simulated::SimulatedMarket;

use anyhow::{bail, Result};
use async_trait::async_trait;
use tracing::warn;

use crate::config::Config;
use crate::shared::candle::{CandleDemand, CandleFetches};
use crate::shared::clock::now_ms;
use crate::shared::market::{Snapshot, Ticker};
use crate::shared::stream_health::StreamHealth;
use crate::shared::warm_start::WarmStart;

/// Every source `--source` can name; adding one is a file in this folder and a line here.
pub const SOURCES: &[Registration] = &[simulated::SOURCE, replay::SOURCE, bybit::BYBIT, binance::BINANCE];

/// A market source: what the pipeline asks, each cycle, for the market now.
#[async_trait]
pub trait MarketSource: Send {
    /// The market at `now_ms` (Unix ms); `None` once the source has ended (a replay that
    /// stops). An error leaves the cycle to serve the last good snapshot.
    async fn snapshot(&mut self, now_ms: i64) -> Result<Option<Snapshot>>;

    /// How many closed candles of each time frame the plugins want now, and of which symbols
    /// (those the last cycle analysed), told before each snapshot. A source that can yield
    /// candles yields, with its snapshots, what is missing (a backfill) and then keeps them
    /// current; the default yields none, and the candle store builds candles from the
    /// snapshots' prices alone.
    fn want_candles(&mut self, _demand: CandleDemand, _symbols: &[Ticker]) {}

    /// The kline requests the source has made so far, if it makes any.
    fn candle_fetches(&self) -> Option<CandleFetches> {
        None
    }

    /// Its streams' state at the last snapshot, if it streams.
    fn stream_health(&self) -> Option<StreamHealth> {
        None
    }

    /// What the recorded daemon took back at a warm start, for a replay to start from the same
    /// (once); `None` for every source but a replay of such a recording.
    fn recorded_warm(&mut self) -> Option<WarmStart> {
        None
    }
}

/// A source just opened, and the name plugins and `pulse:status` know it by.
pub struct Opened {
    /// The source.
    pub market: Box<dyn MarketSource>,
    /// Its name (`bybit`, `bybit:spot`, `replay`, ...): for a replay, without the file.
    pub name: &'static str,
}

/// A source as `--source` names it, and how to open one.
pub struct Registration {
    /// Its name, before any `:` in `--source`.
    pub name: &'static str,
    /// How it is written, for the error that lists them (`replay:FILE`).
    pub usage: &'static str,
    /// Whether `market.speed` applies to it (it replays recorded time).
    pub paced: bool,
    /// Whether a restart goes on with the same market, so the history and candles saved at
    /// the stop still hold (a live exchange); a source that starts its market over (the
    /// simulated walk from its seed, a replay from its first line) neither saves nor loads.
    pub resumable: bool,
    /// Opens it from the config, given what followed the `:`; returns the source and the name
    /// plugins and `pulse:status` know it by.
    pub open: fn(&Config, Option<&str>) -> Result<Opened>,
}

/// The configured source, recording what it yields if asked to.
pub struct Source {
    /// Where snapshots come from.
    market: Box<dyn MarketSource>,
    /// Its name, as plugins and `pulse:status` show it.
    name: &'static str,
    /// Where each snapshot is recorded, if asked.
    recorder: Option<Recorder>,
    /// Whether a restart goes on with the same market.
    resumable: bool,
}

impl Source {
    /// Opens the source the config names; an unknown name fails with the list of known ones.
    pub fn from_config(config: &Config) -> Result<Self> {
        let spec = &config.source;
        let Some(registration) = SOURCES.iter().find(|r| r.name == spec.name) else {
            bail!("unknown source {:?}: expected {}", spec.to_string(), usages());
        };
        if config.market.speed.0 != 1.0 && !registration.paced {
            bail!("market.speed applies to replay sources only");
        }
        let Opened { market, name } = (registration.open)(config, spec.argument.as_deref())?;
        let recorder = config.market.record.as_deref().map(Recorder::create).transpose()?;
        Ok(Self {
            market,
            name,
            recorder,
            resumable: registration.resumable,
        })
    }

    /// The source's name, as shown to plugins and in `pulse:status`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether a restart goes on with the same market, so a saved state still holds.
    pub fn resumable(&self) -> bool {
        self.resumable
    }

    /// Tells the source how deep the plugins want each time frame's candles, and of which
    /// symbols.
    pub fn want_candles(&mut self, demand: CandleDemand, symbols: &[Ticker]) {
        self.market.want_candles(demand, symbols);
    }

    /// The kline requests the source has made so far, if it makes any.
    pub fn candle_fetches(&self) -> Option<CandleFetches> {
        self.market.candle_fetches()
    }

    /// Its streams' state at the last snapshot, if it streams.
    pub fn stream_health(&self) -> Option<StreamHealth> {
        self.market.stream_health()
    }

    /// What a recorded daemon took back at a warm start, if this replays its recording.
    pub fn recorded_warm(&mut self) -> Option<WarmStart> {
        self.market.recorded_warm()
    }

    /// Records what this daemon took back at its warm start, at the top of its recording.
    pub fn record_warm(&mut self, warm: impl FnOnce() -> WarmStart) {
        if let Some(recorder) = &mut self.recorder {
            if let Err(e) = recorder.write_warm(warm()) {
                warn!("recording stopped: {e:#}");
                self.recorder = None;
            }
        }
    }

    /// The market now; `None` when a replay has ended.
    pub async fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        let snapshot = self.market.snapshot(now_ms()).await?;
        if let (Some(recorder), Some(snapshot)) = (&mut self.recorder, &snapshot) {
            if let Err(e) = recorder.write(snapshot) {
                warn!("recording stopped: {e:#}");
                self.recorder = None;
            }
        }
        Ok(snapshot)
    }
}

/// How every source is written: `simulated, replay:FILE, bybit, bybit:spot or binance`, for
/// `--source`'s help and its errors.
pub fn usages() -> String {
    let all: Vec<&str> = SOURCES.iter().map(|r| r.usage).collect();
    match all.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Refuses an argument after `:` for a source that takes none.
fn no_argument(name: &str, argument: Option<&str>) -> Result<()> {
    match argument {
        Some(argument) => bail!("source {name} takes nothing after ':', got {argument:?}"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(source: &str) -> Result<Source> {
        Source::from_config(&Config::from_toml(&format!("source = \"{source}\"\n")).unwrap())
    }

    #[test]
    fn every_registered_source_opens_by_its_name_and_others_are_refused() {
        assert_eq!(open("simulated").unwrap().name(), "simulated");
        assert_eq!(open("bybit").unwrap().name(), "bybit");
        assert_eq!(open("bybit:linear").unwrap().name(), "bybit");
        assert_eq!(open("bybit:spot").unwrap().name(), "bybit:spot");
        assert_eq!(open("binance").unwrap().name(), "binance");
        let err = open("nasdaq").err().unwrap().to_string();
        assert!(
            err.contains("nasdaq") && err.contains("expected simulated, replay:FILE, bybit, bybit:spot or binance"),
            "{err}"
        );
        let err = open("kraken").err().unwrap().to_string();
        assert!(err.contains("expected simulated"), "{err}");
        assert!(open("simulated:fast").is_err());
        assert!(open("bybit:options")
            .err()
            .unwrap()
            .to_string()
            .contains("linear or spot"));
        let missing = open("replay:/nonexistent/market.jsonl").err().unwrap().to_string();
        assert!(missing.contains("cannot open replay file"), "{missing}");
    }

    #[test]
    fn speed_applies_to_replays_only() {
        let config = Config::from_toml("[market]\nspeed = 10\n").unwrap();
        let err = Source::from_config(&config).err().unwrap().to_string();
        assert!(err.contains("market.speed applies to replay sources only"), "{err}");
    }
}
