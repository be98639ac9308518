//! Building markets in native unit tests, so plugin logic is tested with plain `cargo test`
//! on the host, without wasm or a daemon:
//!
//! ```text
//! let market = pulse_sdk::testing::MarketBuilder::new()
//!     .symbol("BTCUSDT", &[94_000.0, 94_500.0, 95_000.0], 2.1)
//!     .candles(Timeframe::M1, &[93_800.0, 94_200.0, 95_000.0], true)
//!     .build_for(&MyPlugin::describe());
//! let analyses = MyPlugin::analyze(&market, &MyConfig::default()).unwrap();
//! ```

use crate::{CandleColumns, Candles, History, Market, MarketView, PluginInfo, SymbolNames, Timeframe};

/// The market time of every built market, ms since the Unix epoch (a multiple of one day).
pub const MARKET_TIME_MS: i64 = 1_699_920_000_000;

/// Assembles a [`MarketView`] symbol by symbol.
#[derive(Default)]
pub struct MarketBuilder {
    market: Option<Market>,
    /// Per time frame (in the order first used), each symbol's closes and whether the last
    /// candle is forming.
    candles: Vec<(Timeframe, Vec<Closes>)>,
}

/// One symbol's candle closes, oldest first, and whether the last candle is forming.
type Closes = (Vec<f64>, bool);

/// A time frame's length in milliseconds.
pub fn timeframe_ms(timeframe: Timeframe) -> i64 {
    60_000
        * match timeframe {
            Timeframe::M1 => 1,
            Timeframe::M5 => 5,
            Timeframe::M15 => 15,
            Timeframe::H1 => 60,
            Timeframe::H4 => 240,
            Timeframe::D1 => 1_440,
        }
}

impl MarketBuilder {
    /// An empty market at cycle 1.
    pub fn new() -> Self {
        Self {
            market: Some(Market {
                cycle: 1,
                timestamp_ms: MARKET_TIME_MS,
                snapshot_age_ms: 0,
                source: "test".into(),
                symbols: SymbolNames {
                    text: String::new(),
                    ends: Vec::new(),
                },
                data_age_ms: Vec::new(),
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
                candles: Vec::new(),
            }),
            candles: Vec::new(),
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
        m.symbols.text.push_str(symbol);
        m.symbols.ends.push(m.symbols.text.len() as u32);
        m.data_age_ms.push(0);
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
                .push(MARKET_TIME_MS - 2_000 * (prices.len() - 1 - i) as i64);
        }
        self
    }

    /// Gives the symbol added last candles of `timeframe` closing at `closes` (oldest first),
    /// the last one still forming if `forming`. Each candle opens at the previous close (the
    /// first at its own close), its high and low are the larger and smaller of open and close,
    /// its volume is 1,000. The last candle is the one the market's time falls in.
    pub fn candles(mut self, timeframe: Timeframe, closes: &[f64], forming: bool) -> Self {
        let symbols = self.market.as_ref().expect("builder already used").symbols.ends.len();
        assert!(symbols > 0, "add a symbol before its candles");
        let k = match self.candles.iter().position(|(t, _)| *t == timeframe) {
            Some(k) => k,
            None => {
                self.candles.push((timeframe, Vec::new()));
                self.candles.len() - 1
            }
        };
        let per_symbol = &mut self.candles[k].1;
        per_symbol.resize(symbols, (Vec::new(), false));
        per_symbol[symbols - 1] = (closes.to_vec(), forming);
        self
    }

    /// The finished market as the daemon hands it to a plugin that describes itself as
    /// `info`: one candles record per request, in its order, with only the columns it names
    /// (a test that reads a column it did not ask for sees it empty, as in the daemon).
    pub fn build_for(self, info: &PluginInfo) -> MarketView {
        let built = self.build();
        let mut market: Market = (*built).clone();
        let symbols = market.symbols.ends.len();
        market.candles = info
            .candles
            .iter()
            .map(|request| {
                let mut c = built
                    .candles
                    .iter()
                    .find(|c| c.timeframe == request.timeframe)
                    .cloned()
                    .unwrap_or_else(|| columns(request.timeframe, &vec![(Vec::new(), false); symbols]));
                let wanted = |column: CandleColumns| request.columns.contains(column);
                if !wanted(CandleColumns::START_MS) {
                    c.start_ms.clear();
                }
                for (column, values) in [
                    (CandleColumns::OPEN, &mut c.open),
                    (CandleColumns::HIGH, &mut c.high),
                    (CandleColumns::LOW, &mut c.low),
                    (CandleColumns::CLOSE, &mut c.close),
                    (CandleColumns::VOLUME, &mut c.volume),
                    (CandleColumns::TURNOVER, &mut c.turnover),
                ] {
                    if !wanted(column) {
                        values.clear();
                    }
                }
                c
            })
            .collect();
        MarketView::new(market)
    }

    /// The finished market, with every column of the candles given.
    pub fn build(mut self) -> MarketView {
        let mut market = self.market.take().expect("builder already used");
        let symbols = market.symbols.ends.len();
        for (timeframe, mut per_symbol) in std::mem::take(&mut self.candles) {
            per_symbol.resize(symbols, (Vec::new(), false));
            market.candles.push(columns(timeframe, &per_symbol));
        }
        MarketView::new(market)
    }
}

/// One time frame's candles of every symbol, column-wise, from each symbol's closes.
fn columns(timeframe: Timeframe, per_symbol: &[Closes]) -> Candles {
    let length = timeframe_ms(timeframe);
    let last_start = MARKET_TIME_MS - MARKET_TIME_MS.rem_euclid(length);
    let mut c = Candles {
        timeframe,
        lengths: Vec::new(),
        forming: Vec::new(),
        start_ms: Vec::new(),
        open: Vec::new(),
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        volume: Vec::new(),
        turnover: Vec::new(),
    };
    for (closes, forming) in per_symbol {
        c.lengths.push(closes.len() as u32);
        c.forming.push(*forming && !closes.is_empty());
        for (j, &close) in closes.iter().enumerate() {
            let open = if j == 0 { close } else { closes[j - 1] };
            c.start_ms.push(last_start - length * (closes.len() - 1 - j) as i64);
            c.open.push(open);
            c.high.push(open.max(close));
            c.low.push(open.min(close));
            c.close.push(close);
            c.volume.push(1_000.0);
            c.turnover.push(1_000.0 * close);
        }
    }
    c
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

    #[test]
    fn builds_candles_per_symbol_and_time_frame() {
        let market = MarketBuilder::new()
            .symbol("AUSDT", &[3.0], 0.0)
            .candles(Timeframe::M1, &[1.0, 2.0, 3.0], true)
            .symbol("BUSDT", &[7.0], 0.0)
            .symbol("CUSDT", &[9.0], 0.0)
            .candles(Timeframe::M1, &[8.0, 9.0], false)
            .candles(Timeframe::H1, &[5.0], false)
            .build();
        let a = market.candles(Timeframe::M1, 0);
        assert_eq!(
            (a.close, a.open, a.forming),
            (&[1.0, 2.0, 3.0][..], &[1.0, 1.0, 2.0][..], true)
        );
        assert_eq!(a.closed().close, [1.0, 2.0]);
        assert_eq!(a.start_ms[2] - a.start_ms[1], 60_000);
        assert!(a.start_ms[2] <= MARKET_TIME_MS && MARKET_TIME_MS < a.start_ms[2] + 60_000);
        assert!(market.candles(Timeframe::M1, 1).is_empty());
        let c = market.candles(Timeframe::M1, 2);
        assert_eq!((c.close, c.forming), (&[8.0, 9.0][..], false));
        assert_eq!(c.closed().len(), 2);
        assert_eq!(market.candles(Timeframe::H1, 2).close, [5.0]);
        assert!(market.candles(Timeframe::H1, 0).is_empty());
        assert!(market.candles(Timeframe::D1, 0).is_empty());
    }

    #[test]
    fn a_market_built_for_a_plugin_has_its_requests_and_columns_only() {
        use crate::{candles, CandleRequest};
        let info = PluginInfo {
            candles: vec![
                CandleRequest {
                    columns: CandleColumns::CLOSE,
                    ..candles(Timeframe::H1, 5)
                },
                candles(Timeframe::M5, 5),
            ],
            ..crate::plugin_info("t", "1.0.0", "", 0)
        };
        let market = MarketBuilder::new()
            .symbol("AUSDT", &[1.0], 0.0)
            .candles(Timeframe::H1, &[1.0, 2.0], true)
            .candles(Timeframe::M1, &[3.0], true)
            .build_for(&info);
        let hours = market.candles(Timeframe::H1, 0);
        assert_eq!((hours.close, hours.len(), hours.forming), (&[1.0, 2.0][..], 2, true));
        assert!(hours.open.is_empty() && hours.start_ms.is_empty() && hours.volume.is_empty());
        // Asked for and never given: none; given and never asked for: gone.
        assert!(market.candles(Timeframe::M5, 0).is_empty());
        assert!(market.candles(Timeframe::M1, 0).is_empty());
        assert_eq!(
            market.candles.iter().map(|c| c.timeframe).collect::<Vec<_>>(),
            [Timeframe::H1, Timeframe::M5]
        );
    }
}
