//! One market snapshot as the host holds it, whatever the source.

use tracing::warn;

/// One symbol's 24 h ticker.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticker {
    /// Exchange symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Last traded price, in quote currency.
    pub price: f64,
    /// Price change over 24 h, in percent.
    pub change_24h: f64,
    /// 24 h volume in base currency.
    pub volume_24h: f64,
    /// 24 h turnover in quote currency.
    pub turnover_24h: f64,
    /// Highest price over 24 h.
    pub high_24h: f64,
    /// Lowest price over 24 h.
    pub low_24h: f64,
}

impl Ticker {
    /// Why this ticker cannot be analysed, if it cannot.
    fn defect(&self) -> Option<&'static str> {
        let numbers = [
            self.price,
            self.change_24h,
            self.volume_24h,
            self.turnover_24h,
            self.high_24h,
            self.low_24h,
        ];
        if self.symbol.is_empty() || self.symbol.len() > 64 || !self.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Some("symbol is empty, too long, or not ASCII letters and digits")
        } else if numbers.iter().any(|n| !n.is_finite()) {
            Some("a number is not finite")
        } else if self.price <= 0.0 {
            Some("price is not positive")
        } else if self.volume_24h < 0.0 || self.turnover_24h < 0.0 {
            Some("volume is negative")
        } else {
            None
        }
    }
}

/// The market at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the snapshot was taken, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The tickers, in no particular order.
    pub tickers: Vec<Ticker>,
}

impl Snapshot {
    /// Keeps the `n` tickers with the largest 24 h turnover, largest first, after dropping
    /// tickers that cannot be analysed (each reason is logged once per snapshot, with a count).
    pub fn into_top(mut self, n: usize) -> Snapshot {
        let before = self.tickers.len();
        let mut first_defect = None;
        self.tickers.retain(|t| match t.defect() {
            None => true,
            Some(reason) => {
                first_defect.get_or_insert((t.symbol.clone(), reason));
                false
            }
        });
        if let Some((symbol, reason)) = first_defect {
            warn!(
                dropped = before - self.tickers.len(),
                "dropped tickers that cannot be analysed; first was {symbol:?}: {reason}"
            );
        }
        self.tickers.sort_by(|a, b| {
            b.turnover_24h
                .total_cmp(&a.turnover_24h)
                .then_with(|| a.symbol.cmp(&b.symbol))
        });
        self.tickers.dedup_by(|a, b| a.symbol == b.symbol);
        self.tickers.truncate(n);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticker(symbol: &str, price: f64, turnover: f64) -> Ticker {
        Ticker {
            symbol: symbol.into(),
            price,
            change_24h: 1.0,
            volume_24h: turnover / price,
            turnover_24h: turnover,
            high_24h: price * 1.1,
            low_24h: price * 0.9,
        }
    }

    #[test]
    fn top_keeps_the_largest_turnover_and_drops_bad_tickers() {
        let snapshot = Snapshot {
            timestamp_ms: 0,
            tickers: vec![
                ticker("AUSDT", 1.0, 10.0),
                ticker("BUSDT", f64::NAN, 1e9),
                ticker("CUSDT", 2.0, 30.0),
                ticker("DUSDT", -1.0, 1e9),
                ticker("EUSDT", 3.0, 20.0),
            ],
        };
        let top: Vec<String> = snapshot.into_top(2).tickers.into_iter().map(|t| t.symbol).collect();
        assert_eq!(top, ["CUSDT", "EUSDT"]);
    }
}
