//! Trend and momentum on candles: an EMA 12/26 crossover and RSI 14 on one-minute closes,
//! confirmed by the same crossover on hourly closes, blended with the 24 h change.
//!
//! The host hands over a full past of candles (backfilled, or kept across a restart), so every
//! component is there from the first cycle; the last candle of each series is the one still
//! forming, whose close is the last price.

mod analysis;

pub use analysis::{info, scores, Config, Trend, HOUR_DEPTH, MAX_HELD, MINUTE_DEPTH};

pulse_sdk::analyzer!(Trend);

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_sdk::testing::MarketBuilder;
    use pulse_sdk::{HeldSignals, Signal, StatefulAnalyzer, Timeframe};

    fn steps(from: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| from + step * i as f64).collect()
    }

    #[test]
    fn a_rising_symbol_outscores_a_falling_one() {
        let (up, down) = (steps(100.0, 1.0, 61), steps(160.0, -1.0, 61));
        let market = MarketBuilder::new()
            .symbol("UPUSDT", &[160.0], 5.0)
            .candles(Timeframe::M1, &up, true)
            .candles(Timeframe::H1, &steps(50.0, 2.0, 31), true)
            .symbol("DOWNUSDT", &[100.0], -5.0)
            .candles(Timeframe::M1, &down, true)
            .candles(Timeframe::H1, &steps(200.0, -2.0, 31), true)
            .build_for(&Trend::describe());
        let out = Trend::analyze(&market, &Config::default(), &mut HeldSignals::default()).unwrap();
        let (up, down) = (out.verdicts[0].unwrap(), out.verdicts[1].unwrap());
        assert!(up.score > 80.0 && down.score < 20.0, "{} vs {}", up.score, down.score);
        assert_eq!(out.component_names.len() * 2, out.components.len());
        let k = out.component_names.len();
        let row: Vec<f64> = out.components[..k].to_vec();
        assert!(row[..4].iter().all(|v| v.is_finite()), "{row:?}");
        assert_eq!(row[4], 61.0);
    }

    #[test]
    fn without_candles_only_the_24h_change_counts() {
        let market = MarketBuilder::new().symbol("AUSDT", &[1.0], 10.0).build();
        let out = Trend::analyze(&market, &Config::default(), &mut HeldSignals::default()).unwrap();
        let k = out.component_names.len();
        assert!(out.components[..4].iter().all(|v| v.is_nan()));
        assert_eq!(out.components[k - 1], 0.0);
        assert!(out.verdicts[0].unwrap().score > 60.0);
    }

    #[test]
    fn a_bad_config_is_refused_with_the_reason() {
        let market = MarketBuilder::new().symbol("AUSDT", &[1.0], 0.0).build();
        let bad = Config {
            fast: 20,
            slow: 10,
            ..Config::default()
        };
        let mut held = HeldSignals::default();
        assert!(Trend::analyze(&market, &bad, &mut held)
            .unwrap_err()
            .contains("below slow"));
        let wide = Config {
            margin: 60.0,
            ..Config::default()
        };
        assert!(Trend::analyze(&market, &wide, &mut held)
            .unwrap_err()
            .contains("margin"));
    }

    #[test]
    fn a_signal_is_held_until_its_score_is_a_margin_past_the_next_threshold() {
        // A 24 h change of 3.6 % scores about 58.6 without candles: neutral, 1.4 below buy.
        let market = MarketBuilder::new().symbol("AUSDT", &[1.0], 3.6).build();
        let score = scores(&market, &Config::default()).unwrap().verdicts[0].unwrap().score;
        assert!((55.0..60.0).contains(&score), "{score}");
        // Held as a buy last cycle, it stays one within 5 points of 60.
        let mut held: HeldSignals = pulse_sdk::decode_state(br#"{"AUSDT": "BUY"}"#).unwrap();
        let out = Trend::analyze(&market, &Config::default(), &mut held).unwrap();
        assert_eq!(out.verdicts[0].unwrap().signal, Signal::Buy);
        assert_eq!(out.verdicts[0].unwrap().score, score);
        // With no margin it is the plain signal, and that is what is held next.
        let plain = Config {
            margin: 0.0,
            ..Config::default()
        };
        let out = Trend::analyze(&market, &plain, &mut held).unwrap();
        assert_eq!(out.verdicts[0].unwrap().signal, Signal::Neutral);
        assert_eq!(held.get("AUSDT"), Some(Signal::Neutral));
    }
}
