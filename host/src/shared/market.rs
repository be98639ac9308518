//! One market snapshot as the host holds it, whatever the source, and the rules that pick the
//! symbols a cycle analyses.
//!
//! A snapshot serialises as one line of the replay format (`docs/sources.md`).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::candle::CandleRows;
use super::contract::Market;
use super::magnitude::MAX_MAGNITUDE;
use super::needs::empty_history;

/// How far a last price may lie outside its own 24 h high and low: those may trail the trade
/// that moved them by a moment.
const RANGE_SLACK: f64 = 0.01;

/// One symbol's 24 h ticker. Its numbers are recorded as they came, a row the source could not
/// read a number of included (`NaN`, written `null`, read back as `NaN`), so a replay refuses
/// the same rows for the same reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticker {
    /// Exchange symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Last traded price, in quote currency.
    #[serde(deserialize_with = "number_or_nan")]
    pub price: f64,
    /// Price change over 24 h, in percent.
    #[serde(deserialize_with = "number_or_nan")]
    pub change_24h: f64,
    /// 24 h volume in base currency.
    #[serde(deserialize_with = "number_or_nan")]
    pub volume_24h: f64,
    /// 24 h turnover in quote currency.
    #[serde(deserialize_with = "number_or_nan")]
    pub turnover_24h: f64,
    /// Highest price over 24 h.
    #[serde(deserialize_with = "number_or_nan")]
    pub high_24h: f64,
    /// Lowest price over 24 h.
    #[serde(deserialize_with = "number_or_nan")]
    pub low_24h: f64,
    /// When the exchange sent this symbol's newest data, Unix ms, where a streaming source
    /// knows it per symbol; `None` for a polled row, as old as its snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_ms: Option<i64>,
}

/// A recorded number: JSON has no NaN, so a number that was not one when recorded is written
/// `null`; it reads back as NaN, which selection refuses again.
fn number_or_nan<'de, D: serde::Deserializer<'de>>(numbers: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(numbers)?.unwrap_or(f64::NAN))
}

/// Why a market row is refused, each a `reason` of `pulse_source_rows_rejected_total`; listed
/// whole so every series exists at zero before the first refusal.
pub const ROW_DEFECTS: [&str; 8] = [
    "symbol not 2-30 capital letters and digits",
    "a number is missing or not finite",
    "a number beyond 1e18",
    "price not positive",
    "negative volume",
    "24 h high below low",
    "price outside its 24 h high and low",
    "24 h change below -100 %",
];

impl Ticker {
    /// Whether the source gave a 24 h range: a symbol with no trade in 24 h may come with a high
    /// and low of 0, and its price is then not checked against them.
    fn has_range(&self) -> bool {
        self.high_24h != 0.0 || self.low_24h != 0.0
    }

    /// Why this ticker cannot be analysed, if it cannot: the first of [`ROW_DEFECTS`] it has.
    fn defect(&self) -> Option<&'static str> {
        let numbers = [
            self.price,
            self.change_24h,
            self.volume_24h,
            self.turnover_24h,
            self.high_24h,
            self.low_24h,
        ];
        // In the order of ROW_DEFECTS: a row is refused for the first that holds.
        let found = [
            !(2..=30).contains(&self.symbol.len())
                || !self
                    .symbol
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            numbers.iter().any(|n| !n.is_finite()),
            numbers.iter().any(|n| n.abs() > MAX_MAGNITUDE),
            self.price <= 0.0,
            self.volume_24h < 0.0 || self.turnover_24h < 0.0,
            self.high_24h < self.low_24h,
            self.has_range()
                && (self.price > self.high_24h * (1.0 + RANGE_SLACK)
                    || self.price < self.low_24h * (1.0 - RANGE_SLACK)),
            self.change_24h < -100.0,
        ];
        found.iter().position(|&holds| holds).map(|i| ROW_DEFECTS[i])
    }
}

/// One symbol's sample of the cycle's own history: its ticker at one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Last traded price.
    pub price: f64,
    /// 24 h volume in base currency.
    pub volume_24h: f64,
    /// The snapshot's time, ms since the Unix epoch.
    pub timestamp_ms: i64,
}

impl Sample {
    /// Whether it holds a positive price and a volume that is a number.
    pub fn is_valid(&self) -> bool {
        self.price.is_finite() && self.price > 0.0 && self.volume_24h.is_finite() && self.volume_24h >= 0.0
    }
}

/// The market at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// When the snapshot was taken, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The tickers, in no particular order.
    pub tickers: Vec<Ticker>,
    /// Candles the source yielded with this snapshot (backfills, refetches, forming candles);
    /// none for a source that yields none, or in a recording made before candles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candles: Vec<CandleRows>,
}

/// Which symbols a cycle analyses.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// How many, by 24 h turnover, largest first.
    pub top: usize,
    /// Only symbols with this quote currency suffix (e.g. `USDT`); empty for any.
    pub quote: String,
    /// If not empty, only these symbols.
    pub include: Vec<String>,
    /// Never these symbols.
    pub exclude: Vec<String>,
}

/// Rows dropped from a snapshot, counted by reason.
pub type Rejections = BTreeMap<&'static str, usize>;

impl Snapshot {
    /// The snapshot as the contract's `market` record, without history: what plugins get.
    pub fn to_market(&self, cycle: u64, source: &str, age: Duration) -> Market {
        let t = &self.tickers;
        let column = |f: fn(&Ticker) -> f64| t.iter().map(f).collect::<Vec<f64>>();
        Market {
            cycle,
            timestamp_ms: self.timestamp_ms,
            snapshot_age_ms: age.as_millis() as u64,
            source: source.to_string(),
            symbols: t.iter().map(|t| t.symbol.clone()).collect(),
            // A polled row's data is as old as its snapshot; a streamed one's is as old as the
            // newest message of its symbol, as of the snapshot.
            data_age_ms: t
                .iter()
                .map(|t| {
                    let behind = t.data_ms.map_or(0, |at| self.timestamp_ms.saturating_sub(at).max(0));
                    age.as_millis() as u64 + behind as u64
                })
                .collect(),
            price: column(|t| t.price),
            change_24h: column(|t| t.change_24h),
            volume_24h: column(|t| t.volume_24h),
            turnover_24h: column(|t| t.turnover_24h),
            high_24h: column(|t| t.high_24h),
            low_24h: column(|t| t.low_24h),
            history: empty_history(),
            candles: Vec::new(),
        }
    }

    /// Keeps the valid tickers `selection` admits, the `top` largest by 24 h turnover first.
    /// Returns the rows dropped as invalid, counted by reason (filtered-out symbols are not
    /// counted: they are not errors).
    pub fn select(mut self, selection: &Selection) -> (Snapshot, Rejections) {
        let mut rejections = Rejections::new();
        self.tickers.retain(|t| match t.defect() {
            Some(reason) => {
                *rejections.entry(reason).or_default() += 1;
                false
            }
            None => {
                t.symbol.ends_with(selection.quote.as_str())
                    && (selection.include.is_empty() || selection.include.contains(&t.symbol))
                    && !selection.exclude.contains(&t.symbol)
            }
        });
        self.tickers.sort_by(|a, b| {
            b.turnover_24h
                .total_cmp(&a.turnover_24h)
                .then_with(|| a.symbol.cmp(&b.symbol))
        });
        // A symbol listed twice keeps its row of the largest turnover.
        let mut seen = HashSet::with_capacity(self.tickers.len());
        let first: Vec<bool> = self.tickers.iter().map(|t| seen.insert(t.symbol.as_str())).collect();
        drop(seen);
        let mut first = first.into_iter();
        self.tickers.retain(|_| first.next().unwrap_or(false));
        self.tickers.truncate(selection.top);
        (self, rejections)
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
            data_ms: None,
        }
    }

    #[test]
    fn selects_the_top_by_turnover_and_counts_bad_rows_by_reason() {
        let mut inverted = ticker("FUSDT", 5.0, 1e9);
        inverted.high_24h = 1.0;
        let snapshot = Snapshot {
            candles: Vec::new(),
            timestamp_ms: 0,
            tickers: vec![
                ticker("AUSDT", 1.0, 10.0),
                ticker("BUSDT", f64::NAN, 1e9),
                ticker("CUSDT", 2.0, 30.0),
                ticker("DUSDT", -1.0, 1e9),
                ticker("EUSDT", 3.0, 20.0),
                inverted,
                ticker("bad sym", 3.0, 1e9),
                ticker("GBTC", 3.0, 1e9),
            ],
        };
        let selection = Selection {
            top: 2,
            quote: "USDT".into(),
            ..Selection::default()
        };
        let (top, rejected) = snapshot.clone().select(&selection);
        let symbols: Vec<&str> = top.tickers.iter().map(|t| t.symbol.as_str()).collect();
        assert_eq!(symbols, ["CUSDT", "EUSDT"]);
        assert_eq!(rejected.get("a number is missing or not finite"), Some(&1));
        assert_eq!(rejected.get("price not positive"), Some(&1));
        assert_eq!(rejected.get("24 h high below low"), Some(&1));
        assert_eq!(rejected.get("symbol not 2-30 capital letters and digits"), Some(&1));
        assert_eq!(rejected.values().sum::<usize>(), 4);

        let picky = Selection {
            top: 10,
            quote: String::new(),
            include: vec!["AUSDT".into(), "GBTC".into(), "EUSDT".into()],
            exclude: vec!["EUSDT".into()],
        };
        let (picked, _) = snapshot.select(&picky);
        let symbols: Vec<&str> = picked.tickers.iter().map(|t| t.symbol.as_str()).collect();
        assert_eq!(symbols, ["GBTC", "AUSDT"]);
    }

    #[test]
    fn absurd_values_that_are_numbers_are_dropped_and_counted() {
        let far = |symbol: &str, change: fn(&mut Ticker)| {
            let mut t = ticker(symbol, 100.0, 1e6);
            change(&mut t);
            t
        };
        let tickers = vec![
            ticker("GOODUSDT", 100.0, 1e6),
            far("HUGEUSDT", |t| t.price = 1e308),
            far("VOLUSDT", |t| t.volume_24h = 1e308),
            far("TURNUSDT", |t| t.turnover_24h = 1e300),
            far("ABOVEUSDT", |t| t.price = 200.0),
            far("BELOWUSDT", |t| t.price = 50.0),
            far("EDGEUSDT", |t| t.price = 110.5),
            far("DROPUSDT", |t| t.change_24h = -150.0),
        ];
        let snapshot = Snapshot {
            candles: Vec::new(),
            timestamp_ms: 0,
            tickers,
        };
        let (kept, rejected) = snapshot.select(&Selection {
            top: 10,
            ..Selection::default()
        });
        let mut symbols: Vec<&str> = kept.tickers.iter().map(|t| t.symbol.as_str()).collect();
        symbols.sort();
        assert_eq!(
            symbols,
            ["EDGEUSDT", "GOODUSDT"],
            "within 1 % of its range, a price stands"
        );
        assert_eq!(rejected.get("a number beyond 1e18"), Some(&3));
        assert_eq!(rejected.get("price outside its 24 h high and low"), Some(&2));
        assert_eq!(rejected.get("24 h change below -100 %"), Some(&1));
    }

    #[test]
    fn a_symbol_listed_twice_keeps_its_row_of_the_largest_turnover() {
        let twice = Snapshot {
            candles: Vec::new(),
            timestamp_ms: 0,
            tickers: vec![
                ticker("AUSDT", 1.0, 10.0),
                ticker("BUSDT", 2.0, 20.0),
                ticker("AUSDT", 1.5, 30.0),
            ],
        };
        let (selected, rejected) = twice.select(&Selection {
            top: 10,
            quote: "USDT".into(),
            ..Selection::default()
        });
        let rows: Vec<(&str, f64)> = selected.tickers.iter().map(|t| (t.symbol.as_str(), t.price)).collect();
        assert_eq!(rows, [("AUSDT", 1.5), ("BUSDT", 2.0)]);
        assert!(rejected.is_empty());
    }

    #[test]
    fn a_row_recorded_with_a_number_that_was_none_reads_back_and_is_refused_again() {
        let snapshot = Snapshot {
            timestamp_ms: 1,
            tickers: vec![ticker("AUSDT", 1.0, 1e6), ticker("NANUSDT", f64::NAN, 1e6)],
            candles: Vec::new(),
        };
        let line = serde_json::to_string(&snapshot).unwrap();
        assert!(line.contains(r#""price":null"#), "{line}");
        let read: Snapshot = serde_json::from_str(&line).unwrap();
        assert!(read.tickers[1].price.is_nan());
        let selection = Selection {
            top: 10,
            ..Selection::default()
        };
        let (live, refused_live) = snapshot.select(&selection);
        let (replayed, refused_replayed) = read.select(&selection);
        assert_eq!(refused_live.values().sum::<usize>(), 1, "{refused_live:?}");
        assert_eq!((live, refused_live), (replayed, refused_replayed));
    }

    #[test]
    fn a_snapshot_served_again_says_its_age_for_every_symbol() {
        let snapshot = Snapshot {
            timestamp_ms: 1,
            tickers: vec![ticker("AUSDT", 1.0, 1e6), ticker("BUSDT", 2.0, 1e6)],
            candles: Vec::new(),
        };
        let fresh = snapshot.to_market(1, "bybit", Duration::ZERO);
        assert_eq!(fresh.data_age_ms, [0, 0]);
        let again = snapshot.to_market(2, "bybit", Duration::from_millis(4_500));
        assert_eq!((again.snapshot_age_ms, again.data_age_ms), (4_500, vec![4_500, 4_500]));
    }
}
