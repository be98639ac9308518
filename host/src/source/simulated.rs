//! A deterministic simulated market: a random walk over symbols with realistic price levels
//! and turnover, carrying 24 h statistics. The same seed gives the same prices step by step.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use anyhow::Result;
use async_trait::async_trait;

use super::simulated_candles::SimulatedCandles;
use super::walk::{standard_normal, Walk};
use super::{no_argument, MarketSource, Opened, Registration};
use crate::config::{Config, SimulatedConfig};
use crate::shared::candle::CandleDemand;
use crate::shared::market::{Snapshot, Ticker};

/// `simulated`: the market of the `[simulated]` settings, as many symbols as `symbols`.
pub(super) const SOURCE: Registration = Registration {
    name: "simulated",
    usage: "simulated",
    paced: false,
    resumable: false,
    open,
};

fn open(config: &Config, argument: Option<&str>) -> Result<Opened> {
    no_argument("simulated", argument)?;
    let market = SimulatedMarket::new(&config.simulated, config.symbols.0).stepping(config.cycle_interval());
    Ok(Opened {
        market: Box::new(market),
        name: "simulated",
    })
}

#[async_trait]
impl MarketSource for SimulatedMarket {
    async fn snapshot(&mut self, now_ms: i64) -> Result<Option<Snapshot>> {
        Ok(Some(SimulatedMarket::snapshot(self, now_ms)))
    }

    fn want_candles(&mut self, demand: CandleDemand, _symbols: &[Ticker]) {
        SimulatedMarket::want_candles(self, demand);
    }
}

/// The largest symbols by turnover, with a typical price and 24 h turnover in USDT.
const MAJORS: &[(&str, f64, f64)] = &[
    ("BTCUSDT", 95_000.0, 9.0e9),
    ("ETHUSDT", 3_400.0, 5.5e9),
    ("SOLUSDT", 180.0, 2.4e9),
    ("XRPUSDT", 2.3, 1.6e9),
    ("DOGEUSDT", 0.32, 1.2e9),
    ("BNBUSDT", 650.0, 8.0e8),
    ("SUIUSDT", 3.6, 7.0e8),
    ("ADAUSDT", 0.9, 6.0e8),
    ("LINKUSDT", 19.0, 4.5e8),
    ("AVAXUSDT", 36.0, 4.0e8),
    ("PEPEUSDT", 0.000018, 3.8e8),
    ("LTCUSDT", 105.0, 3.2e8),
    ("WIFUSDT", 2.1, 3.0e8),
    ("TRXUSDT", 0.25, 2.8e8),
    ("DOTUSDT", 7.2, 2.5e8),
    ("NEARUSDT", 5.4, 2.3e8),
    ("BCHUSDT", 450.0, 2.1e8),
    ("APTUSDT", 9.5, 2.0e8),
    ("ARBUSDT", 0.75, 1.9e8),
    ("OPUSDT", 1.9, 1.7e8),
    ("FILUSDT", 5.5, 1.5e8),
    ("INJUSDT", 23.0, 1.4e8),
    ("TONUSDT", 5.6, 1.3e8),
    ("ATOMUSDT", 6.8, 1.2e8),
    ("UNIUSDT", 12.5, 1.1e8),
    ("ETCUSDT", 27.0, 1.0e8),
    ("HBARUSDT", 0.28, 9.5e7),
    ("AAVEUSDT", 310.0, 9.0e7),
    ("SEIUSDT", 0.45, 8.5e7),
    ("TIAUSDT", 5.1, 8.0e7),
];

/// The simulated market; [`snapshot`](Self::snapshot) moves it one cycle forward.
pub struct SimulatedMarket {
    rng: SmallRng,
    walks: Vec<Walk>,
    volatility: f64,
    /// The walks' candles, with their made-up past.
    candles: SimulatedCandles,
}

impl SimulatedMarket {
    /// A market of `symbols` symbols: the majors first, then synthetic ones (`SIM00031USDT`, ...)
    /// with falling turnover.
    pub fn new(config: &SimulatedConfig, symbols: usize) -> Self {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let walks: Vec<Walk> = (0..symbols)
            .map(|i| {
                let (symbol, price, turnover) = match MAJORS.get(i) {
                    Some(&(s, p, t)) => (s.to_string(), p, t),
                    None => (
                        format!("SIM{:05}USDT", i + 1),
                        10f64.powf(rng.random_range(-3.0..3.0)),
                        8.0e7 / (i as f64 - MAJORS.len() as f64 + 2.0).sqrt(),
                    ),
                };
                let change: f64 = rng.random_range(-8.0..8.0);
                let open_24h = price / (1.0 + change / 100.0);
                Walk {
                    symbol,
                    price,
                    open_24h,
                    high_24h: price.max(open_24h) * (1.0 + rng.random_range(0.002..0.03)),
                    low_24h: price.min(open_24h) * (1.0 - rng.random_range(0.002..0.03)),
                    turnover_24h: turnover,
                    drift: rng.random_range(-1.0..=1.0) * config.drift,
                }
            })
            .collect();
        Self {
            rng,
            candles: SimulatedCandles::new(config, walks.len()),
            walks,
            volatility: config.volatility,
        }
    }

    /// The same market, stepping once per `interval` (2 s unless told): what the candles'
    /// made-up past scales its volatility and volume by.
    pub fn stepping(mut self, interval: std::time::Duration) -> Self {
        self.candles.set_step(interval.as_millis() as i64);
        self
    }

    /// Asks for candles: `snapshot` yields the missing past of each time frame and then each
    /// symbol's forming candles.
    pub fn want_candles(&mut self, demand: CandleDemand) {
        self.candles.want(demand);
    }

    /// Moves every symbol one step and returns the market at `timestamp_ms`.
    pub fn snapshot(&mut self, timestamp_ms: i64) -> Snapshot {
        let tickers = self
            .walks
            .iter_mut()
            .map(|w| {
                let shock = standard_normal(&mut self.rng) * self.volatility + w.drift;
                w.price *= shock.exp();
                w.high_24h = w.high_24h.max(w.price);
                w.low_24h = w.low_24h.min(w.price);
                w.turnover_24h *= 1.0 + self.rng.random_range(-0.002..0.002);
                Ticker {
                    symbol: w.symbol.clone(),
                    price: w.price,
                    change_24h: (w.price / w.open_24h - 1.0) * 100.0,
                    volume_24h: w.turnover_24h / w.price,
                    turnover_24h: w.turnover_24h,
                    high_24h: w.high_24h,
                    low_24h: w.low_24h,
                    data_ms: None,
                }
            })
            .collect();
        let candles = self.candles.step(&self.walks, timestamp_ms);
        Snapshot {
            timestamp_ms,
            tickers,
            candles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_market_and_prices_move() {
        let seeded = |seed| SimulatedConfig {
            seed,
            ..SimulatedConfig::default()
        };
        let (mut a, mut b) = (
            SimulatedMarket::new(&seeded(7), 40),
            SimulatedMarket::new(&seeded(7), 40),
        );
        let first = a.snapshot(1);
        assert_eq!(first, b.snapshot(1));
        assert_eq!(first.tickers.len(), 40);
        assert_eq!(first.tickers[0].symbol, "BTCUSDT");
        assert_eq!(first.tickers[39].symbol, "SIM00040USDT");
        let second = a.snapshot(2);
        assert_ne!(first.tickers[0].price, second.tickers[0].price);
        for t in &second.tickers {
            assert!(t.low_24h <= t.price && t.price <= t.high_24h, "{t:?}");
            assert!(t.price > 0.0 && t.turnover_24h > 0.0);
        }
        assert_ne!(SimulatedMarket::new(&seeded(8), 40).snapshot(1), first);
    }
}
