//! Trend and momentum: an EMA crossover and RSI over the rolling history, blended with the
//! 24 h change so that a verdict exists from the first cycle on.

use pulse_sdk::indicators::{ema, rsi};
use pulse_sdk::{verdict, Analyses, AnalysesBuilder, Analyzer, MarketView, PluginInfo};
use serde::Deserialize;

/// The analyzer's settings: periods in samples of the rolling history (one per cycle).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Fast EMA period.
    pub fast: usize,
    /// Slow EMA period.
    pub slow: usize,
    /// RSI period.
    pub rsi_period: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            fast: 5,
            slow: 15,
            rsi_period: 14,
        }
    }
}

/// The analyzer.
pub struct Trend;

impl Analyzer for Trend {
    type Config = Config;

    fn describe() -> PluginInfo {
        pulse_sdk::plugin_info("trend", env!("CARGO_PKG_VERSION"), "EMA crossover and RSI momentum", 30)
    }

    fn analyze(market: &MarketView, config: &Config) -> Result<Analyses, String> {
        if config.fast == 0 || config.fast >= config.slow {
            return Err(format!(
                "config: fast ({}) must be at least 1 and below slow ({})",
                config.fast, config.slow
            ));
        }
        let mut out = AnalysesBuilder::new(
            &["ema_fast", "ema_slow", "ema_gap_pct", "rsi", "momentum"],
            market.len(),
        );
        for i in 0..market.len() {
            let prices = market.history(i).price;
            let fast = ema(prices, config.fast);
            let slow = ema(prices, config.slow);
            let gap_pct = match (fast, slow) {
                (Some(f), Some(s)) if s > 0.0 => Some((f - s) / s * 100.0),
                _ => None,
            };
            let rsi = rsi(prices, config.rsi_period);
            // 24 h change mapped to -1..1: ±10 % saturates.
            let momentum = (market.change_24h[i] / 10.0).tanh();
            let mut score = 50.0 + 30.0 * momentum;
            if let Some(gap) = gap_pct {
                score += 15.0 * (gap / 0.5).tanh();
            }
            if let Some(r) = rsi {
                score += 0.3 * (r - 50.0);
            }
            let nan = f64::NAN;
            out.push(
                verdict(score),
                &[
                    fast.unwrap_or(nan),
                    slow.unwrap_or(nan),
                    gap_pct.unwrap_or(nan),
                    rsi.unwrap_or(nan),
                    momentum,
                ],
            );
        }
        Ok(out.finish())
    }
}

pulse_sdk::analyzer!(Trend);

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_sdk::testing::MarketBuilder;

    #[test]
    fn a_rising_symbol_outscores_a_falling_one() {
        let rising: Vec<f64> = (0..30).map(|i| 100.0 + i as f64).collect();
        let falling: Vec<f64> = rising.iter().rev().copied().collect();
        let market = MarketBuilder::new()
            .symbol("UPUSDT", &rising, 5.0)
            .symbol("DOWNUSDT", &falling, -5.0)
            .build();
        let out = Trend::analyze(&market, &Config::default()).unwrap();
        let (up, down) = (out.verdicts[0].unwrap(), out.verdicts[1].unwrap());
        assert!(up.score > 80.0 && down.score < 20.0, "{} vs {}", up.score, down.score);
        assert_eq!(out.component_names.len() * 2, out.components.len());
    }

    #[test]
    fn a_bad_config_is_refused_with_the_reason() {
        let market = MarketBuilder::new().symbol("AUSDT", &[1.0], 0.0).build();
        let bad = Config {
            fast: 20,
            slow: 10,
            rsi_period: 14,
        };
        assert!(Trend::analyze(&market, &bad).unwrap_err().contains("below slow"));
    }
}
