//! The market as a call hands it over: the contract's `market` record with its columns
//! borrowed, so wasmtime lowers them into the plugin's memory straight from where the host
//! keeps them. Plugins whose needs differ share every column they have in common (the widest
//! market's, whose candles are the candle store's own); only what is cut to a smaller depth is
//! copied, once per cycle and need.
//!
//! A call hands over a [`CallMarket`]: the current contract's record, whose symbol names are
//! one buffer built once a cycle ([`SymbolNames`]), and the names one string each for plugins
//! of contracts before 0.4.0.

use std::sync::Arc;

use wasmtime::component::{ComponentType, Lower};

use super::columns::Columns;
use super::contract::{CandleColumns, Candles, History, Market, Timeframe};

/// The market's symbol names as one buffer, as 0.4.0 hands them over: two copies into a plugin
/// whatever the number of symbols, where a list of strings costs an allocation in the plugin
/// per name. Built once a cycle, shared by every call.
#[derive(Debug, Default)]
pub struct SymbolNames {
    /// Every name, one after the other.
    text: String,
    /// Where each name ends in `text`, in bytes.
    ends: Vec<u32>,
}

impl SymbolNames {
    /// The names of `symbols`, in their order.
    pub fn of(symbols: &[String]) -> Self {
        let mut names = Self {
            text: String::with_capacity(symbols.iter().map(String::len).sum()),
            ends: Vec::with_capacity(symbols.len()),
        };
        for symbol in symbols {
            names.text.push_str(symbol);
            // A market's names are checked to be at most 30 bytes each and its symbols far
            // fewer than 4 GiB / 30, so the offset fits.
            names.ends.push(names.text.len() as u32);
        }
        names
    }

    /// The contract's `symbol-names` record, borrowed.
    pub fn as_ref(&self) -> SymbolsRef<'_> {
        SymbolsRef {
            text: &self.text,
            ends: &self.ends,
        }
    }
}

/// The contract's `symbol-names` record, borrowed.
#[derive(ComponentType, Lower, Debug, Clone, Copy)]
#[component(record)]
pub struct SymbolsRef<'a> {
    /// Every name, one after the other.
    pub text: &'a str,
    /// Where each name ends in `text`, in bytes.
    pub ends: &'a [u32],
}

/// The market one call hands over: the current contract's record, and the symbols one string
/// each, which contracts before 0.4.0 take instead of the buffer.
#[derive(Debug)]
pub struct CallMarket<'a> {
    /// The contract's `market` record.
    pub record: MarketRef<'a>,
    /// The symbols, one string each.
    pub symbols: &'a [String],
}

impl CallMarket<'_> {
    /// How many symbols it holds: what every per-symbol result must align with.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether it holds no symbol.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

/// The contract's `market` record, borrowed.
#[derive(ComponentType, Lower, Debug)]
#[component(record)]
pub struct MarketRef<'a> {
    /// Cycle number.
    pub cycle: u64,
    /// Snapshot time, ms since the Unix epoch.
    #[component(name = "timestamp-ms")]
    pub timestamp_ms: i64,
    /// Age of a served-again snapshot, ms.
    #[component(name = "snapshot-age-ms")]
    pub snapshot_age_ms: u64,
    /// Name of the source.
    pub source: &'a str,
    /// The symbols, in the market's order.
    pub symbols: SymbolsRef<'a>,
    /// How old each symbol's data is, ms.
    #[component(name = "data-age-ms")]
    pub data_age_ms: &'a [u64],
    /// Last traded prices.
    pub price: &'a [f64],
    /// 24 h changes, in percent.
    #[component(name = "change-24h")]
    pub change_24h: &'a [f64],
    /// 24 h volumes in base currency.
    #[component(name = "volume-24h")]
    pub volume_24h: &'a [f64],
    /// 24 h turnovers in quote currency.
    #[component(name = "turnover-24h")]
    pub turnover_24h: &'a [f64],
    /// 24 h highs.
    #[component(name = "high-24h")]
    pub high_24h: &'a [f64],
    /// 24 h lows.
    #[component(name = "low-24h")]
    pub low_24h: &'a [f64],
    /// The history, as deep as the plugin asked.
    pub history: HistoryRef<'a>,
    /// One entry per candle request of the plugin, in its order.
    pub candles: Vec<CandlesRef<'a>>,
}

/// The contract's `history` record, borrowed.
#[derive(ComponentType, Lower, Debug, Clone, Copy)]
#[component(record)]
pub struct HistoryRef<'a> {
    /// Samples per symbol.
    pub lengths: &'a [u32],
    /// Prices at each sample.
    pub price: &'a [f64],
    /// 24 h volumes at each sample.
    #[component(name = "volume-24h")]
    pub volume_24h: &'a [f64],
    /// Sample times.
    #[component(name = "timestamp-ms")]
    pub timestamp_ms: &'a [i64],
}

/// The contract's `candles` record, borrowed.
#[derive(ComponentType, Lower, Debug, Clone, Copy)]
#[component(record)]
pub struct CandlesRef<'a> {
    /// The time frame.
    pub timeframe: Timeframe,
    /// Candles per symbol.
    pub lengths: &'a [u32],
    /// Whether each symbol's last candle is still forming.
    pub forming: &'a [bool],
    /// Candle open times.
    #[component(name = "start-ms")]
    pub start_ms: &'a [i64],
    /// Opening prices.
    pub open: &'a [f64],
    /// Highest prices.
    pub high: &'a [f64],
    /// Lowest prices.
    pub low: &'a [f64],
    /// Closing prices.
    pub close: &'a [f64],
    /// Volumes in base currency.
    pub volume: &'a [f64],
    /// Turnovers in quote currency.
    pub turnover: &'a [f64],
}

impl<'a> CandlesRef<'a> {
    /// These candles with only `columns` (`lengths` and `forming` always); the others empty.
    fn only(self, columns: Columns) -> Self {
        let keep = |column: CandleColumns, values: &'a [f64]| if columns.has(column) { values } else { &[] };
        Self {
            start_ms: if columns.has(CandleColumns::START_MS) {
                self.start_ms
            } else {
                &[]
            },
            open: keep(CandleColumns::OPEN, self.open),
            high: keep(CandleColumns::HIGH, self.high),
            low: keep(CandleColumns::LOW, self.low),
            close: keep(CandleColumns::CLOSE, self.close),
            volume: keep(CandleColumns::VOLUME, self.volume),
            turnover: keep(CandleColumns::TURNOVER, self.turnover),
            ..self
        }
    }
}

impl<'a> From<&'a History> for HistoryRef<'a> {
    fn from(h: &'a History) -> Self {
        Self {
            lengths: &h.lengths,
            price: &h.price,
            volume_24h: &h.volume_24h,
            timestamp_ms: &h.timestamp_ms,
        }
    }
}

impl<'a> From<&'a Candles> for CandlesRef<'a> {
    fn from(c: &'a Candles) -> Self {
        Self {
            timeframe: c.timeframe,
            lengths: &c.lengths,
            forming: &c.forming,
            start_ms: &c.start_ms,
            open: &c.open,
            high: &c.high,
            low: &c.low,
            close: &c.close,
            volume: &c.volume,
            turnover: &c.turnover,
        }
    }
}

/// `m`'s tickers, with no history and no candles, its symbols' names `names`.
fn tickers<'a>(m: &'a Market, names: &'a SymbolNames) -> MarketRef<'a> {
    MarketRef {
        cycle: m.cycle,
        timestamp_ms: m.timestamp_ms,
        snapshot_age_ms: m.snapshot_age_ms,
        source: &m.source,
        symbols: names.as_ref(),
        data_age_ms: &m.data_age_ms,
        price: &m.price,
        change_24h: &m.change_24h,
        volume_24h: &m.volume_24h,
        turnover_24h: &m.turnover_24h,
        high_24h: &m.high_24h,
        low_24h: &m.low_24h,
        history: HistoryRef {
            lengths: &[],
            price: &[],
            volume_24h: &[],
            timestamp_ms: &[],
        },
        candles: Vec::new(),
    }
}

/// The cycle's market with everything any plugin asked for. Its candles are shared with the
/// candle store, which keeps them column-wise across cycles and updates them in place, rather
/// than copied into the market every cycle.
#[derive(Debug, Clone)]
pub struct WidestMarket {
    /// The tickers and the history; its own `candles` are empty.
    pub market: Arc<Market>,
    /// Each time frame's candles kept, in the order of the candle demand.
    pub candles: Vec<Arc<Candles>>,
    /// The market's symbol names as one buffer, for 0.4.0 calls.
    pub symbol_names: Arc<SymbolNames>,
}

impl WidestMarket {
    /// `market` (whose own candles are left out) with `candles`.
    pub fn new(market: Market, candles: Vec<Arc<Candles>>) -> Self {
        Self {
            symbol_names: Arc::new(SymbolNames::of(&market.symbols)),
            market: Arc::new(market),
            candles,
        }
    }

    /// All of it, as one call hands it over (what `pulse check` and the bench call with).
    pub fn view(&self) -> CallMarket<'_> {
        let m = &*self.market;
        CallMarket {
            record: MarketRef {
                history: (&m.history).into(),
                candles: self.candles.iter().map(|c| CandlesRef::from(&**c)).collect(),
                ..tickers(m, &self.symbol_names)
            },
            symbols: &m.symbols,
        }
    }
}

impl From<Market> for WidestMarket {
    /// A market that holds its own candles, shared as they are.
    fn from(mut market: Market) -> Self {
        let candles = std::mem::take(&mut market.candles).into_iter().map(Arc::new).collect();
        Self::new(market, candles)
    }
}

/// A market cut to one plugin's needs: what it shares with the widest market of the cycle is
/// borrowed from it when a call lowers it; what had to be cut is its own.
#[derive(Debug)]
pub struct PluginMarket {
    /// The cycle's widest market.
    pub(super) widest: WidestMarket,
    /// The history cut to a smaller depth, or `None` for the widest market's.
    pub(super) history: Option<History>,
    /// Per candle request of the plugin, in its order, and the columns it asked for.
    pub(super) candles: Vec<(CandlesPart, Columns)>,
}

/// Where one candle request's candles come from.
#[derive(Debug)]
pub(super) enum CandlesPart {
    /// The widest market's candles at this index, whole.
    Whole(usize),
    /// Those of the first symbols only (a prefix of every column of the widest market's
    /// candles at `index`, `candles` long); later symbols have none.
    Prefix {
        /// Index in the widest market's candles.
        index: usize,
        /// Candles per symbol: the widest market's for the first symbols, then zeros.
        lengths: Vec<u32>,
        /// Likewise, whether the last candle is forming.
        forming: Vec<bool>,
        /// Candles in the prefix.
        candles: usize,
    },
    /// Cut to a smaller depth, or a time frame the widest market lacks (no candles).
    Cut(Candles),
}

impl PluginMarket {
    /// The market as the plugin's call lowers it.
    pub fn view<'a>(&'a self) -> CallMarket<'a> {
        let w = &*self.widest.market;
        let shared = &self.widest.candles;
        let record = MarketRef {
            history: self.history.as_ref().unwrap_or(&w.history).into(),
            candles: self
                .candles
                .iter()
                .map(|(part, columns)| match part {
                    CandlesPart::Whole(index) => CandlesRef::from(&*shared[*index]).only(*columns),
                    CandlesPart::Prefix {
                        index,
                        lengths,
                        forming,
                        candles,
                    } => {
                        let c = &shared[*index];
                        // A column the widest market lacks (no plugin asked for it) stays empty.
                        let first = |v: &'a [f64]| v.get(..*candles).unwrap_or_default();
                        CandlesRef {
                            timeframe: c.timeframe,
                            lengths,
                            forming,
                            start_ms: c.start_ms.get(..*candles).unwrap_or_default(),
                            open: first(&c.open),
                            high: first(&c.high),
                            low: first(&c.low),
                            close: first(&c.close),
                            volume: first(&c.volume),
                            turnover: first(&c.turnover),
                        }
                        .only(*columns)
                    }
                    CandlesPart::Cut(c) => c.into(),
                })
                .collect(),
            ..tickers(w, &self.widest.symbol_names)
        };
        CallMarket {
            record,
            symbols: &w.symbols,
        }
    }
}
