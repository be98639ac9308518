//! Candles as sources yield them and the candle store keeps them: one OHLCV candle, a
//! source's rows for one symbol and time frame, and how deep the plugins want each time frame.

use serde::{Deserialize, Serialize};

use super::contract::Timeframe;
use super::magnitude::MAX_MAGNITUDE;
use super::timeframe::{self, TIMEFRAMES};

/// One OHLCV candle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candle {
    /// Open time, ms since the Unix epoch; a multiple of the time frame's length.
    pub start_ms: i64,
    /// Opening price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Closing price (the last price, while the candle forms).
    pub close: f64,
    /// Volume in base currency.
    pub volume: f64,
    /// Turnover in quote currency.
    pub turnover: f64,
}

impl Candle {
    /// A candle opening at `price` at `start_ms`, with nothing traded yet.
    pub fn opening(start_ms: i64, price: f64) -> Self {
        Self {
            start_ms,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0.0,
            turnover: 0.0,
        }
    }

    /// Why this candle of `timeframe` cannot be kept, if it cannot.
    pub fn defect(&self, timeframe: Timeframe) -> Option<&'static str> {
        let prices = [self.open, self.high, self.low, self.close];
        if prices
            .iter()
            .chain([&self.volume, &self.turnover])
            .any(|n| !n.is_finite())
        {
            Some("a number is missing or not finite")
        } else if prices
            .iter()
            .chain([&self.volume, &self.turnover])
            .any(|n| n.abs() > MAX_MAGNITUDE)
        {
            Some("a number beyond 1e18")
        } else if prices.iter().any(|&p| p <= 0.0) {
            Some("price not positive")
        } else if self.volume < 0.0 || self.turnover < 0.0 {
            Some("negative volume")
        } else if self.high < self.open.max(self.close) || self.low > self.open.min(self.close) {
            Some("high or low outside open and close")
        } else if self.start_ms.rem_euclid(timeframe::length_ms(timeframe)) != 0 {
            Some("start time not on the time frame")
        } else {
            None
        }
    }

    /// Takes in a trade at `price`: the close follows it, the high and low widen to it.
    pub fn trade(&mut self, price: f64) {
        self.close = price;
        self.high = self.high.max(price);
        self.low = self.low.min(price);
    }
}

/// Candles of one symbol and time frame as a source yielded them, oldest first: a backfill,
/// a refetch, or the candle forming now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandleRows {
    /// The symbol.
    pub symbol: String,
    /// The time frame, as traders write it (`1m`, `1h`, ...).
    #[serde(with = "timeframe_label")]
    pub timeframe: Timeframe,
    /// The candles.
    pub candles: Vec<Candle>,
}

/// Kline requests a source has made so far, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandleFetches {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests that failed (no answer, an error status, a body that does not parse).
    pub failures: u64,
}

/// How many closed candles of each time frame the plugins want: the deepest request of each,
/// indexed as [`TIMEFRAMES`]; 0 for a time frame nobody asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandleDemand(pub [u32; TIMEFRAMES.len()]);

impl CandleDemand {
    /// The closed candles wanted of `timeframe`.
    pub fn depth(&self, timeframe: Timeframe) -> u32 {
        self.0[timeframe::index(timeframe)]
    }

    /// Raises the depth of `timeframe` to at least `depth`.
    pub fn want(&mut self, timeframe: Timeframe, depth: u32) {
        let slot = &mut self.0[timeframe::index(timeframe)];
        *slot = (*slot).max(depth);
    }

    /// The time frames wanted, with their depths, shortest first.
    pub fn wanted(&self) -> impl Iterator<Item = (Timeframe, u32)> + '_ {
        TIMEFRAMES
            .iter()
            .zip(self.0)
            .filter(|(_, d)| *d > 0)
            .map(|(&t, d)| (t, d))
    }
}

/// A time frame written as traders write it, in recordings.
mod timeframe_label {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{timeframe, Timeframe, TIMEFRAMES};

    pub fn serialize<S: Serializer>(timeframe: &Timeframe, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(timeframe::label(*timeframe))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timeframe, D::Error> {
        let label = String::deserialize(d)?;
        TIMEFRAMES
            .into_iter()
            .find(|&t| timeframe::label(t) == label)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown time frame {label:?}")))
    }
}
