//! Volume and volatility: where the price sits in its 24 h range, how turbulent the last hour
//! of one-minute candles was (realised volatility and ATR), and how much of the market's
//! turnover the symbol draws.

use pulse_sdk::indicators::{Atr, Indicator, RealisedVolatility};
use pulse_sdk::{
    candles, verdict, Analyses, AnalysesBuilder, Analyzer, CandleColumns, CandleRequest, MarketView, PluginInfo,
    Timeframe,
};
use serde::Deserialize;

/// Closed one-minute candles asked for: an hour.
const MINUTE_DEPTH: u32 = 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Realised volatility (percent per one-minute candle) at which the score is pulled
    /// halfway to neutral.
    calm_volatility: f64,
    /// ATR period, in candles.
    atr_period: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            calm_volatility: 0.5,
            atr_period: 14,
        }
    }
}

struct Volatility;

impl Analyzer for Volatility {
    type Config = Config;

    fn describe() -> PluginInfo {
        PluginInfo {
            candles: vec![CandleRequest {
                columns: CandleColumns::HIGH | CandleColumns::LOW | CandleColumns::CLOSE,
                ..candles(Timeframe::M1, MINUTE_DEPTH)
            }],
            ..pulse_sdk::plugin_info(
                "volatility",
                env!("CARGO_PKG_VERSION"),
                "24 h range position, realised volatility and ATR on 1 m candles, turnover share",
                0,
            )
        }
    }

    fn analyze(market: &MarketView, config: &Config) -> Result<Analyses, String> {
        if config.calm_volatility.is_nan() || config.calm_volatility <= 0.0 {
            return Err("config: calm_volatility must be above 0".into());
        }
        if config.atr_period == 0 {
            return Err("config: atr_period must be at least 1".into());
        }
        let total_turnover: f64 = market.turnover_24h.iter().sum();
        let mut out = AnalysesBuilder::new(
            &[
                "range_position",
                "volatility_pct",
                "atr_pct",
                "turnover_share_pct",
                "candles_1m",
            ],
            market.len(),
        );
        // One indicator per length of hour handed over (nearly every symbol has the same), reset
        // for each symbol rather than made anew: no allocation per symbol each cycle.
        let mut by_returns: Option<(usize, RealisedVolatility)> = None;
        for i in 0..market.len() {
            let (high, low, price) = (market.high_24h[i], market.low_24h[i], market.price[i]);
            let range_position = if high > low {
                ((price - low) / (high - low)).clamp(0.0, 1.0)
            } else {
                0.5
            };
            let minutes = market.candles(Timeframe::M1, i);
            let closed = minutes.closed();
            // Over every return of the hour handed over (at least two).
            let returns = closed.close.len().saturating_sub(1);
            let vol = (returns >= 2)
                .then(|| {
                    let volatility = match &mut by_returns {
                        Some((n, v)) if *n == returns => v,
                        slot => &mut slot.insert((returns, RealisedVolatility::new(returns))).1,
                    };
                    volatility.reset();
                    volatility.last(closed.close)
                })
                .filter(|v| !v.is_nan());
            let atr = Atr::new(config.atr_period).last(closed.high, closed.low, closed.close);
            let atr_pct = Some(atr / price * 100.0).filter(|_| !atr.is_nan());
            let share = if total_turnover > 0.0 {
                market.turnover_24h[i] / total_turnover * 100.0
            } else {
                f64::NAN
            };
            // Near the high is bullish, near the low bearish; turbulence damps conviction.
            let damping = vol.map_or(1.0, |v| config.calm_volatility / (config.calm_volatility + v));
            let score = 50.0 + 50.0 * (range_position - 0.5) * 2.0 * damping;
            out.push(
                verdict(score),
                &[
                    range_position,
                    vol.unwrap_or(f64::NAN),
                    atr_pct.unwrap_or(f64::NAN),
                    share,
                    minutes.len() as f64,
                ],
            );
        }
        Ok(out.finish())
    }
}

pulse_sdk::analyzer!(Volatility);

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_sdk::testing::MarketBuilder;

    #[test]
    fn turbulence_damps_the_range_signal() {
        let calm: Vec<f64> = (0..61).map(|i| 100.0 + 0.01 * i as f64).collect();
        let wild: Vec<f64> = (0..61).map(|i| if i % 2 == 0 { 100.0 } else { 104.0 }).collect();
        let market = MarketBuilder::new()
            .symbol("CALMUSDT", &[90.0, 100.6], 0.0)
            .candles(Timeframe::M1, &calm, true)
            .symbol("WILDUSDT", &[90.0, 104.0], 0.0)
            .candles(Timeframe::M1, &wild, true)
            .build();
        let out = Volatility::analyze(&market, &Config::default()).unwrap();
        let k = out.component_names.len();
        let (calm, wild) = (&out.components[..k], &out.components[k..]);
        // Both stand at the top of their 24 h range; the wild one is damped towards neutral.
        assert_eq!((calm[0], wild[0]), (1.0, 1.0));
        assert!(wild[1] > calm[1] && wild[2] > calm[2], "{calm:?} {wild:?}");
        assert!(out.verdicts[0].unwrap().score > out.verdicts[1].unwrap().score + 10.0);
        assert_eq!(calm[4], 61.0);
    }
}
