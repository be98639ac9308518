//! The dashboard aggregator: blends every analyzer's verdicts into one score per symbol and
//! writes the `market:*` and `analysis:*` keys that dashboards read, with the last hour of
//! one-minute closes of the largest symbols for sparklines. Each key's name and shape
//! come from `pulse-keys`, which the readers share; `docs/cache-keys.md` documents them.

mod breakdown;

use breakdown::{Breakdown, Breakdowns};
use pulse_keys::{
    Breadth, Components, Mover, Movers, Overview, SignalEntry, Signals, Sparkline, Sparklines, Ticker, Tickers,
    SPARKLINE_POINTS, SPARKLINE_TIMEFRAME,
};
use pulse_sdk::{
    candles, verdict, Aggregator, AnalyzerOutput, CacheEntry, CandleColumns, CandleRequest, ComponentsView, MarketView,
    PluginInfo, Signal, Timeframe,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// How many gainers and losers `market:movers` lists.
    movers: usize,
    /// A symbol counts as up or down in `market:breadth` beyond this 24 h change, in percent.
    flat_threshold_pct: f64,
    /// Most symbols in `market:tickers` (the largest by turnover), so the value stays far below
    /// memcached's 1 MiB item limit at any market size; every symbol keeps its breakdown key.
    max_tickers: usize,
    /// Most entries in `analysis:signals` (the highest scores).
    max_signals: usize,
    /// Most `analysis:breakdown:<SYMBOL>` keys per cycle (the largest by turnover): at 100,000
    /// symbols, one key each would cost more than the 2 s cycle.
    max_breakdowns: usize,
    /// Symbols in `market:sparklines` (the largest by turnover), at most
    /// [`MAX_SPARKLINE_SYMBOLS`]: only those get candles.
    sparkline_symbols: usize,
}

/// The most symbols the dashboard asks candles for: its market stays small at any size.
const MAX_SPARKLINE_SYMBOLS: usize = 100;

impl Default for Config {
    fn default() -> Self {
        Self {
            movers: 5,
            flat_threshold_pct: 1.0,
            max_tickers: 1000,
            max_signals: 200,
            max_breakdowns: 10_000,
            sparkline_symbols: 30,
        }
    }
}

/// One symbol's blended verdict: the mean of the analyzers' scores.
struct Blend {
    score: f64,
    signal: Signal,
}

struct Dashboard;

impl Aggregator for Dashboard {
    type Config = Config;

    fn describe() -> PluginInfo {
        let mut info = pulse_sdk::plugin_info(
            "dashboard",
            env!("CARGO_PKG_VERSION"),
            "Writes market:* and analysis:* dashboard keys",
            0,
        );
        info.key_prefixes = pulse_keys::PREFIXES.map(String::from).to_vec();
        info.candles = vec![CandleRequest {
            top: MAX_SPARKLINE_SYMBOLS as u32,
            columns: CandleColumns::START_MS | CandleColumns::CLOSE,
            ..candles(Timeframe::M1, SPARKLINE_POINTS as u32 - 1)
        }];
        info
    }

    fn aggregate(market: &MarketView, results: &[AnalyzerOutput], config: &Config) -> Result<Vec<CacheEntry>, String> {
        let n = market.len();
        let timestamp = market.timestamp_ms.div_euclid(1000);
        let blends: Vec<Option<Blend>> = (0..n).map(|i| blend(results, i)).collect();
        let mut entries = Vec::with_capacity(8 + n);

        // Regime: buys against sells among the blended signals.
        let bull = blends.iter().flatten().filter(|b| b.signal.is_buy()).count();
        let bear = blends.iter().flatten().filter(|b| b.signal.is_sell()).count();
        let trend_strength = if bull + bear == 0 {
            50.0
        } else {
            bull.max(bear) as f64 / (bull + bear) as f64 * 100.0
        };
        let regime = if bull > bear && trend_strength >= 60.0 {
            "BULLISH"
        } else if bear > bull && trend_strength >= 60.0 {
            "BEARISH"
        } else {
            "NEUTRAL"
        };

        let total_quote_volume: f64 = market.turnover_24h.iter().sum();
        let btc_quote_volume: f64 = (0..n)
            .filter(|&i| market.symbol(i).starts_with("BTC"))
            .map(|i| market.turnover_24h[i])
            .sum();
        let mean = |values: &mut dyn Iterator<Item = f64>| {
            let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
            if count == 0 {
                0.0
            } else {
                sum / count as f64
            }
        };
        entries.push(CacheEntry::json(
            pulse_keys::OVERVIEW,
            &Overview {
                total_symbols: n,
                total_quote_volume_24h: total_quote_volume,
                market_regime: regime,
                trend_strength,
                current_volatility: mean(&mut market.change_24h.iter().map(|c| c.abs())),
                btc_dominance: if total_quote_volume > 0.0 {
                    btc_quote_volume / total_quote_volume * 100.0
                } else {
                    0.0
                },
                average_change_24h: mean(&mut market.change_24h.iter().copied()),
                timestamp,
                cycle: market.cycle,
                stale: market.snapshot_age_ms > 0,
                snapshot_age_ms: market.snapshot_age_ms,
            },
        )?);

        // The market comes sorted by turnover, largest first.
        let tickers: Tickers<&str> = (0..n.min(config.max_tickers))
            .map(|i| {
                let blend = blends[i].as_ref();
                let ticker = Ticker {
                    price: market.price[i],
                    change_24h: market.change_24h[i],
                    quote_volume_24h: market.turnover_24h[i],
                    high_24h: market.high_24h[i],
                    low_24h: market.low_24h[i],
                    signal: blend.map_or(Signal::Neutral, |b| b.signal).as_str(),
                    score: blend.map(|b| b.score),
                };
                (market.symbol(i), ticker)
            })
            .collect();
        entries.push(CacheEntry::json(pulse_keys::TICKERS, &tickers)?);

        let mover = |i: usize| Mover {
            symbol: market.symbol(i),
            price: market.price[i],
            change_24h: market.change_24h[i],
            quote_volume_24h: market.turnover_24h[i],
        };
        let mut by_change: Vec<usize> = (0..n).filter(|&i| market.change_24h[i].is_finite()).collect();
        by_change.sort_by(|&a, &b| market.change_24h[b].total_cmp(&market.change_24h[a]));
        let gainers = by_change
            .iter()
            .copied()
            .filter(|&i| market.change_24h[i] > 0.0)
            .take(config.movers)
            .map(mover)
            .collect();
        let losers = by_change
            .iter()
            .rev()
            .copied()
            .filter(|&i| market.change_24h[i] < 0.0)
            .take(config.movers)
            .map(mover)
            .collect();
        entries.push(CacheEntry::json(
            pulse_keys::MOVERS,
            &Movers {
                gainers,
                losers,
                timestamp,
            },
        )?);

        let up = market
            .change_24h
            .iter()
            .filter(|&&c| c > config.flat_threshold_pct)
            .count();
        let down = market
            .change_24h
            .iter()
            .filter(|&&c| c < -config.flat_threshold_pct)
            .count();
        let breadth_percentage = if up + down == 0 {
            50.0
        } else {
            up as f64 / (up + down) as f64 * 100.0
        };
        entries.push(CacheEntry::json(
            pulse_keys::BREADTH,
            &Breadth {
                up_count: up,
                down_count: down,
                flat_count: n - up - down,
                breadth_percentage,
                market_sentiment: if breadth_percentage > 60.0 {
                    "bullish"
                } else if breadth_percentage < 40.0 {
                    "bearish"
                } else {
                    "neutral"
                },
                timestamp,
            },
        )?);

        // Each scored symbol's index with its entry; components only for the entries kept (at
        // 10,000 symbols, most are not).
        let mut scored: Vec<(usize, SignalEntry<&str>)> = (0..n)
            .filter_map(|i| {
                let blend = blends[i].as_ref()?;
                let entry = SignalEntry {
                    symbol: market.symbol(i),
                    score: blend.score,
                    signal: blend.signal.as_str(),
                    sentiment: sentiment(blend.score),
                    price: market.price[i],
                    change_24h: market.change_24h[i],
                    quote_volume_24h: market.turnover_24h[i],
                    components: Components::new(),
                };
                Some((i, entry))
            })
            .collect();
        scored.sort_by(|(_, a), (_, b)| b.score.total_cmp(&a.score).then_with(|| a.symbol.cmp(b.symbol)));
        let symbols_scored = scored.len();
        scored.truncate(config.max_signals);
        let signals: Vec<SignalEntry<&str>> = scored
            .into_iter()
            .map(|(i, entry)| SignalEntry {
                components: components(results, i),
                ..entry
            })
            .collect();
        entries.push(CacheEntry::json(
            pulse_keys::SIGNALS,
            &Signals {
                count: signals.len(),
                symbols_scored,
                signals,
                timestamp,
            },
        )?);
        entries.push(CacheEntry::text(pulse_keys::REGIME, regime));
        entries.push(CacheEntry::json(pulse_keys::SPARKLINES, &sparklines(market, config))?);

        let breakdowns = Breakdowns::new(results);
        for (i, (symbol, blend)) in market.symbols().zip(&blends).enumerate().take(config.max_breakdowns) {
            let blend = blend.as_ref();
            entries.push(CacheEntry::json(
                pulse_keys::breakdown_key(symbol),
                &Breakdown {
                    symbol,
                    score: blend.map(|b| b.score),
                    signal: blend.map_or(Signal::Neutral, |b| b.signal).as_str(),
                    analyzers: breakdowns.analyzers(i),
                    cycle: market.cycle,
                    timestamp,
                },
            )?);
        }
        Ok(entries)
    }
}

/// The one-minute closes of the largest symbols that have candles.
fn sparklines<'a>(market: &'a MarketView, config: &Config) -> Sparklines<&'a str> {
    let symbols = (0..market.len())
        .filter_map(|i| {
            let minutes = market.candles(Timeframe::M1, i);
            let start = *minutes.start_ms.first()?;
            let line = Sparkline {
                start: start.div_euclid(1000),
                closes: minutes.close.to_vec(),
                forming: minutes.forming,
            };
            Some((market.symbol(i), line))
        })
        .take(config.sparkline_symbols)
        .collect();
    Sparklines {
        timeframe: SPARKLINE_TIMEFRAME,
        symbols,
        cycle: market.cycle,
        timestamp: market.timestamp_ms.div_euclid(1000),
    }
}

/// Each analyzer's components for symbol `i`.
fn components(results: &[AnalyzerOutput], i: usize) -> Components<&str> {
    results
        .iter()
        .map(|r| {
            let values = ComponentsView::new(&r.analyses, i).iter().collect();
            (r.plugin.as_str(), values)
        })
        .collect()
}

/// The mean of the analyzers' scores for symbol `i`; `None` when none has an opinion.
fn blend(results: &[AnalyzerOutput], i: usize) -> Option<Blend> {
    let scores: Vec<f64> = results
        .iter()
        .filter_map(|r| r.analyses.verdicts.get(i).copied().flatten())
        .map(|v| v.score)
        .filter(|s| s.is_finite())
        .collect();
    if scores.is_empty() {
        return None;
    }
    let v = verdict(scores.iter().sum::<f64>() / scores.len() as f64);
    Some(Blend {
        score: v.score,
        signal: v.signal,
    })
}

/// Sentiment of a score, as the replaced system's readers expect: BULLISH at 70 or more,
/// BEARISH at 30 or less.
fn sentiment(score: f64) -> &'static str {
    if score >= 70.0 {
        "BULLISH"
    } else if score <= 30.0 {
        "BEARISH"
    } else {
        "NEUTRAL"
    }
}

pulse_sdk::aggregator!(Dashboard);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_sentiments_use_their_public_names() {
        for signal in [
            Signal::StrongBuy,
            Signal::Buy,
            Signal::Neutral,
            Signal::Sell,
            Signal::StrongSell,
        ] {
            assert!(
                pulse_keys::SIGNAL_NAMES.contains(&signal.as_str()),
                "{}",
                signal.as_str()
            );
        }
        for score in [0.0, 30.0, 30.1, 69.9, 70.0, 100.0] {
            assert!(pulse_keys::REGIMES.contains(&sentiment(score)));
        }
    }

    #[test]
    fn sparklines_hold_the_largest_symbols_closes_as_handed_over() {
        use pulse_sdk::testing::MarketBuilder;
        let market = MarketBuilder::new()
            .symbol("AUSDT", &[3.0], 0.0)
            .candles(Timeframe::M1, &[1.0, 2.0, 3.0], true)
            .symbol("BUSDT", &[5.0], 0.0)
            .symbol("CUSDT", &[7.0], 0.0)
            .candles(Timeframe::M1, &[6.0, 7.0], false)
            .build();
        let config = Config {
            sparkline_symbols: 1,
            ..Config::default()
        };
        let lines = sparklines(&market, &config);
        assert_eq!(lines.symbols.len(), 1);
        let a = &lines.symbols["AUSDT"];
        assert_eq!((a.closes.as_slice(), a.forming), (&[1.0, 2.0, 3.0][..], true));
        assert_eq!(a.start, market.candles(Timeframe::M1, 0).start_ms[0] / 1000);
        let all = sparklines(&market, &Config::default());
        assert_eq!(
            all.symbols.keys().copied().collect::<Vec<_>>(),
            ["AUSDT", "CUSDT"],
            "BUSDT has no candles"
        );
        assert_eq!(all.timeframe, "1m");
    }
}
