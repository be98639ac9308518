//! Building markets in native unit tests, so plugin logic is tested with plain `cargo test`
//! on the host, without wasm or a daemon:
//!
//! ```text
//! let market = pulse_sdk::testing::MarketBuilder::new()
//!     .symbol("BTCUSDT", &[94_000.0, 94_500.0, 95_000.0], 2.1)
//!     .build();
//! let analyses = MyPlugin::analyze(&market, &MyConfig::default()).unwrap();
//! ```

use crate::{History, Market, MarketView};

/// Assembles a [`MarketView`] symbol by symbol.
#[derive(Default)]
pub struct MarketBuilder {
    market: Option<Market>,
}

impl MarketBuilder {
    /// An empty market at cycle 1.
    pub fn new() -> Self {
        Self {
            market: Some(Market {
                cycle: 1,
                timestamp_ms: 1_700_000_000_000,
                snapshot_age_ms: 0,
                source: "test".into(),
                symbols: Vec::new(),
                price: Vec::new(),
                change_24h: Vec::new(),
                volume_24h: Vec::new(),
                turnover_24h: Vec::new(),
                high_24h: Vec::new(),
                low_24h: Vec::new(),
                history: History {
                    lengths: Vec::new(),
                    price: Vec::new(),
                    volume_24h: Vec::new(),
                    timestamp_ms: Vec::new(),
                },
            }),
        }
    }

    /// Adds a symbol whose price history is `prices` (oldest first; the last is the current
    /// price) and whose 24 h change is `change_24h` percent. Volume, turnover and the 24 h range
    /// are derived from the prices.
    pub fn symbol(mut self, symbol: &str, prices: &[f64], change_24h: f64) -> Self {
        let m = self.market.as_mut().expect("builder already used");
        let price = *prices.last().expect("at least one price");
        let high = prices.iter().copied().fold(price, f64::max);
        let low = prices.iter().copied().fold(price, f64::min);
        m.symbols.push(symbol.into());
        m.price.push(price);
        m.change_24h.push(change_24h);
        m.volume_24h.push(1_000.0);
        m.turnover_24h.push(1_000.0 * price);
        m.high_24h.push(high);
        m.low_24h.push(low);
        m.history.lengths.push(prices.len() as u32);
        for (i, &p) in prices.iter().enumerate() {
            m.history.price.push(p);
            m.history.volume_24h.push(1_000.0);
            m.history
                .timestamp_ms
                .push(1_700_000_000_000 - 2_000 * (prices.len() - 1 - i) as i64);
        }
        self
    }

    /// The finished market.
    pub fn build(mut self) -> MarketView {
        MarketView::new(self.market.take().expect("builder already used"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_aligned_columns_and_history() {
        let market = MarketBuilder::new()
            .symbol("AUSDT", &[1.0, 2.0, 3.0], 5.0)
            .symbol("BUSDT", &[7.0], -1.0)
            .build();
        assert_eq!(market.len(), 2);
        assert_eq!(market.price, [3.0, 7.0]);
        assert_eq!(market.history(0).price, [1.0, 2.0, 3.0]);
        assert_eq!(market.history(1).price, [7.0]);
        assert_eq!(market.high_24h[0], 3.0);
    }
}
