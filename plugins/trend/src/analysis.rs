//! The analysis itself: what `trend` scores and how ([`scores`]), and the signal each score
//! gives, held between cycles until the score is a margin past the next threshold (the
//! plugin's state). `pulse-bench`'s `bench-analyzer` fixture and the candidate fixtures compile
//! this very file, so their figures are those of the bundled plugin.

use pulse_sdk::indicators::{Ema, Indicator, Rsi};
use pulse_sdk::{
    candles, verdict, Analyses, AnalysesBuilder, CandleColumns, CandleRequest, CandleSeries, HeldSignals, MarketView,
    PluginInfo, StatefulAnalyzer, Timeframe,
};
use serde::Deserialize;

/// Closed one-minute candles asked for: enough for the slow EMA to settle and for RSI.
pub const MINUTE_DEPTH: u32 = 60;
/// Closed hourly candles asked for.
pub const HOUR_DEPTH: u32 = 30;
/// Symbols whose signal is held, the largest first: at most 47 bytes of state each (a 30-byte
/// name and `STRONG_SELL`, quoted), so the state stays within its 1 MiB bound; symbols past
/// them get the plain signal of their score.
pub const MAX_HELD: usize = 22_000;

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
    /// Points past a threshold (80, 60, 40, 20) a score must go before a symbol's signal
    /// changes (0 to 50; 0 holds nothing).
    pub margin: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            fast: 12,
            slow: 26,
            rsi_period: 14,
            margin: 5.0,
        }
    }
}

/// The analyzer.
pub struct Trend;

/// How far the fast EMA of `series`' closes stands from the slow one, in percent of the slow.
fn ema_gap_pct(series: &CandleSeries, config: &Config) -> (Option<f64>, Option<f64>, Option<f64>) {
    let fast = Ema::new(config.fast).last(series.close);
    let slow = Ema::new(config.slow).last(series.close);
    let gap = (fast.is_finite() && slow > 0.0).then(|| (fast - slow) / slow * 100.0);
    (fast.is_finite().then_some(fast), slow.is_finite().then_some(slow), gap)
}

/// What `trend` says of itself but its state: the candles it reads.
pub fn info() -> PluginInfo {
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
            "EMA 12/26 crossover and RSI 14 on 1 m candles, confirmed on 1 h; each signal held until its score is a margin past the next threshold",
            0,
        )
    }
}

impl StatefulAnalyzer for Trend {
    type Config = Config;
    /// Each symbol's signal as last given.
    type State = HeldSignals;

    fn describe() -> PluginInfo {
        PluginInfo {
            max_state_bytes: 1 << 20,
            state_format: "trend-signals/1".into(),
            ..info()
        }
    }

    fn analyze(market: &MarketView, config: &Config, held: &mut HeldSignals) -> Result<Analyses, String> {
        if !(0.0..=50.0).contains(&config.margin) {
            return Err(format!("config: margin ({}) must be from 0 to 50", config.margin));
        }
        let mut out = scores(market, config)?;
        let mut next = HeldSignals::default();
        for (i, given) in out.verdicts.iter_mut().enumerate().take(MAX_HELD) {
            if let Some(given) = given {
                *given = held.verdict(market.symbol(i), given.score, config.margin, &mut next);
            }
        }
        *held = next;
        Ok(out)
    }
}

/// Scores every symbol, each with the plain signal of its score: the analysis, without the
/// state (what `pulse-bench` times against the same code built natively).
pub fn scores(market: &MarketView, config: &Config) -> Result<Analyses, String> {
    if config.fast == 0 || config.fast >= config.slow {
        return Err(format!(
            "config: fast ({}) must be at least 1 and below slow ({})",
            config.fast, config.slow
        ));
    }
    if config.rsi_period == 0 {
        return Err("config: rsi_period must be at least 1".into());
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
        let rsi = Some(Rsi::new(config.rsi_period).last(minutes.close)).filter(|r| !r.is_nan());
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
