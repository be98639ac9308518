//! Volume and volatility: where the price sits in its 24 h range, how turbulent the recent
//! samples are, and how much of the market's turnover the symbol draws.

use pulse_sdk::indicators::volatility;
use pulse_sdk::{verdict, Analyses, AnalysesBuilder, Analyzer, MarketView, PluginInfo};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Volatility (percent per sample) at which the score is pulled halfway to neutral.
    calm_volatility: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { calm_volatility: 0.5 }
    }
}

struct Volatility;

impl Analyzer for Volatility {
    type Config = Config;

    fn describe() -> PluginInfo {
        pulse_sdk::plugin_info(
            "volatility",
            env!("CARGO_PKG_VERSION"),
            "24 h range position, sample volatility and turnover share",
            20,
        )
    }

    fn analyze(market: &MarketView, config: &Config) -> Result<Analyses, String> {
        if config.calm_volatility.is_nan() || config.calm_volatility <= 0.0 {
            return Err("config: calm_volatility must be above 0".into());
        }
        let total_turnover: f64 = market.turnover_24h.iter().sum();
        let mut out = AnalysesBuilder::new(
            &["range_position", "volatility_pct", "turnover_share_pct"],
            market.len(),
        );
        for i in 0..market.len() {
            let (high, low, price) = (market.high_24h[i], market.low_24h[i], market.price[i]);
            let range_position = if high > low {
                ((price - low) / (high - low)).clamp(0.0, 1.0)
            } else {
                0.5
            };
            let vol = volatility(market.history(i).price);
            let share = if total_turnover > 0.0 {
                market.turnover_24h[i] / total_turnover * 100.0
            } else {
                f64::NAN
            };
            // Near the high is bullish, near the low bearish; turbulence damps conviction.
            let damping = vol.map_or(1.0, |v| config.calm_volatility / (config.calm_volatility + v));
            let score = 50.0 + 50.0 * (range_position - 0.5) * 2.0 * damping;
            out.push(verdict(score), &[range_position, vol.unwrap_or(f64::NAN), share]);
        }
        Ok(out.finish())
    }
}

pulse_sdk::analyzer!(Volatility);
