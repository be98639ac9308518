//! The analysis itself: what `trend` scores and how. `pulse-bench`'s `bench-analyzer` fixture
//! compiles this very file, so its figures are those of the bundled plugin.

use pulse_sdk::indicators::{ema, rsi};
use pulse_sdk::{
    candles, verdict, Analyses, AnalysesBuilder, Analyzer, CandleColumns, CandleRequest, CandleSeries, MarketView,
    PluginInfo, Timeframe,
};
use serde::Deserialize;

/// Closed one-minute candles asked for: enough for the slow EMA to settle and for RSI.
pub const MINUTE_DEPTH: u32 = 60;
/// Closed hourly candles asked for.
pub const HOUR_DEPTH: u32 = 30;

/// The analyzer's settings: periods in candles.
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
            fast: 12,
            slow: 26,
            rsi_period: 14,
        }
    }
}

/// The analyzer.
pub struct Trend;

/// How far the fast EMA of `series`' closes stands from the slow one, in percent of the slow.
fn ema_gap_pct(series: &CandleSeries, config: &Config) -> (Option<f64>, Option<f64>, Option<f64>) {
    let fast = ema(series.close, config.fast);
    let slow = ema(series.close, config.slow);
    let gap = match (fast, slow) {
        (Some(f), Some(s)) if s > 0.0 => Some((f - s) / s * 100.0),
        _ => None,
    };
    (fast, slow, gap)
}

impl Analyzer for Trend {
    type Config = Config;

    fn describe() -> PluginInfo {
        PluginInfo {
            candles: vec![
                CandleRequest {
                    columns: CandleColumns::CLOSE,
                    ..candles(Timeframe::M1, MINUTE_DEPTH)
                },
                CandleRequest {
                    columns: CandleColumns::CLOSE,
                    ..candles(Timeframe::H1, HOUR_DEPTH)
                },
            ],
            ..pulse_sdk::plugin_info(
                "trend",
                env!("CARGO_PKG_VERSION"),
                "EMA 12/26 crossover and RSI 14 on 1 m candles, confirmed on 1 h",
                0,
            )
        }
    }

    fn analyze(market: &MarketView, config: &Config) -> Result<Analyses, String> {
        if config.fast == 0 || config.fast >= config.slow {
            return Err(format!(
                "config: fast ({}) must be at least 1 and below slow ({})",
                config.fast, config.slow
            ));
        }
        // Five components: with the verdicts, 10,000 symbols stay within the default 640 KiB a
        // call may hand back (the gap of the EMAs and the 24 h momentum follow from what is here).
        let mut out = AnalysesBuilder::new(
            &["ema_fast", "ema_slow", "rsi", "h1_gap_pct", "candles_1m"],
            market.len(),
        );
        for i in 0..market.len() {
            let minutes = market.candles(Timeframe::M1, i);
            let hours = market.candles(Timeframe::H1, i);
            let (fast, slow, gap_pct) = ema_gap_pct(&minutes, config);
            let (_, _, h1_gap_pct) = ema_gap_pct(&hours, config);
            let rsi = rsi(minutes.close, config.rsi_period);
            // 24 h change mapped to -1..1: ±10 % saturates.
            let momentum = (market.change_24h[i] / 10.0).tanh();
            let mut score = 50.0 + 25.0 * momentum;
            if let Some(gap) = gap_pct {
                score += 15.0 * (gap / 0.5).tanh();
            }
            if let Some(r) = rsi {
                score += 0.3 * (r - 50.0);
            }
            if let Some(gap) = h1_gap_pct {
                score += 10.0 * (gap / 2.0).tanh();
            }
            let nan = f64::NAN;
            out.push(
                verdict(score),
                &[
                    fast.unwrap_or(nan),
                    slow.unwrap_or(nan),
                    rsi.unwrap_or(nan),
                    h1_gap_pct.unwrap_or(nan),
                    minutes.len() as f64,
                ],
            );
        }
        Ok(out.finish())
    }
}
