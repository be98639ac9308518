//! Small, allocation-free indicators over a price series or candles (oldest first): pass a
//! candle series' closes (`market.candles(Timeframe::M1, i).close`) where a series is asked for.

/// Exponential moving average with smoothing `2 / (period + 1)`, seeded with the first value.
/// `None` when the series is shorter than `period`.
pub fn ema(values: &[f64], period: usize) -> Option<f64> {
    if period == 0 || values.len() < period {
        return None;
    }
    let alpha = 2.0 / (period as f64 + 1.0);
    let mut ema = values[0];
    for &v in &values[1..] {
        ema += alpha * (v - ema);
    }
    Some(ema)
}

/// Simple moving average of the last `period` values. `None` when there are fewer.
pub fn sma(values: &[f64], period: usize) -> Option<f64> {
    if period == 0 || values.len() < period {
        return None;
    }
    Some(values[values.len() - period..].iter().sum::<f64>() / period as f64)
}

/// An ATR-like range from closes only: the mean absolute change over the last `period` steps.
/// `None` with fewer than `period + 1` values.
pub fn mean_abs_change(values: &[f64], period: usize) -> Option<f64> {
    if period == 0 || values.len() < period + 1 {
        return None;
    }
    let tail = &values[values.len() - period - 1..];
    Some(tail.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / period as f64)
}

/// How many standard deviations the last value is from the mean of `values`.
/// `None` with fewer than 2 values or when they are all equal.
pub fn z_score(values: &[f64]) -> Option<f64> {
    let (&last, n) = (values.last()?, values.len() as f64);
    if values.len() < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (var > 0.0).then(|| (last - mean) / var.sqrt())
}

/// Wilder's relative strength index over `period` changes, 0..100.
/// `None` when there are fewer than `period + 1` values.
pub fn rsi(values: &[f64], period: usize) -> Option<f64> {
    if period == 0 || values.len() < period + 1 {
        return None;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for w in values[..=period].windows(2) {
        let d = w[1] - w[0];
        if d > 0.0 {
            gain += d;
        } else {
            loss -= d;
        }
    }
    let n = period as f64;
    let (mut avg_gain, mut avg_loss) = (gain / n, loss / n);
    for w in values[period..].windows(2) {
        let d = w[1] - w[0];
        avg_gain = (avg_gain * (n - 1.0) + larger(d, 0.0)) / n;
        avg_loss = (avg_loss * (n - 1.0) + larger(-d, 0.0)) / n;
    }
    Some(if avg_loss == 0.0 {
        if avg_gain == 0.0 {
            50.0
        } else {
            100.0
        }
    } else {
        100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    })
}

/// Standard deviation of log returns, in percent per sample. `None` with fewer than 3 values.
pub fn volatility(values: &[f64]) -> Option<f64> {
    if values.len() < 3 {
        return None;
    }
    let returns = values
        .windows(2)
        .filter(|w| w[0] > 0.0 && w[1] > 0.0)
        .map(|w| (w[1] / w[0]).ln());
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for r in returns {
        n += 1.0;
        let delta = r - mean;
        mean += delta / n;
        m2 += delta * (r - mean);
    }
    (n >= 2.0).then(|| (m2 / (n - 1.0)).sqrt() * 100.0)
}

/// True range of a candle: the largest of its high-low range and its distance from the
/// previous close (`None` for the first candle, whose range alone counts).
pub fn true_range(high: f64, low: f64, prev_close: Option<f64>) -> f64 {
    let range = high - low;
    match prev_close {
        Some(prev) => larger(larger(range, (high - prev).abs()), (low - prev).abs()),
        None => range,
    }
}

/// Wilder's average true range over `period` candles, from the candles' highs, lows and
/// closes (equal lengths). `None` with fewer than `period + 1` candles, so that every true
/// range in it has a previous close.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Option<f64> {
    let n = high.len().min(low.len()).min(close.len());
    if period == 0 || n < period + 1 {
        return None;
    }
    let tr = |i: usize| true_range(high[i], low[i], Some(close[i - 1]));
    let mut atr = (1..=period).map(tr).sum::<f64>() / period as f64;
    for i in period + 1..n {
        atr = (atr * (period as f64 - 1.0) + tr(i)) / period as f64;
    }
    Some(atr)
}

/// `f64::max`: the larger of `a` and `b`, the other when one is NaN. On wasm32, `f64::max`
/// is a call to libm's `fmax` (wasm's `f64.max` treats NaN differently), which was 7 % of a
/// `trend` call at 30 symbols; this compiles to a compare and a select.
#[inline]
fn larger(a: f64, b: f64) -> f64 {
    if a > b || b.is_nan() {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi_is_100_on_a_rising_series_and_0_on_a_falling_one() {
        let up: Vec<f64> = (0..20).map(f64::from).collect();
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert_eq!(rsi(&up, 14), Some(100.0));
        assert_eq!(rsi(&down, 14), Some(0.0));
        assert_eq!(rsi(&up[..14], 14), None);
    }

    #[test]
    fn ema_follows_the_series_and_needs_a_full_period() {
        assert_eq!(ema(&[1.0, 1.0, 1.0], 3), Some(1.0));
        assert_eq!(ema(&[1.0, 1.0], 3), None);
        let rising = ema(&[1.0, 2.0, 3.0, 4.0], 3).unwrap();
        assert!(rising > 2.5 && rising < 4.0, "{rising}");
    }

    #[test]
    fn sma_averages_the_last_period() {
        assert_eq!(sma(&[1.0, 2.0, 3.0, 4.0], 2), Some(3.5));
        assert_eq!(sma(&[1.0], 2), None);
    }

    #[test]
    fn mean_abs_change_measures_range_in_either_direction() {
        assert_eq!(mean_abs_change(&[10.0, 12.0, 11.0, 14.0], 3), Some(2.0));
        assert_eq!(mean_abs_change(&[10.0, 12.0], 2), None);
    }

    #[test]
    fn z_score_is_signed_distance_from_the_mean() {
        let z = z_score(&[1.0, 2.0, 3.0, 4.0, 10.0]).unwrap();
        assert!(z > 1.5 && z < 2.0, "{z}");
        assert!(z_score(&[1.0, 2.0, 3.0, 4.0, -10.0]).unwrap() < -1.5);
        assert_eq!(z_score(&[5.0, 5.0, 5.0]), None);
        assert_eq!(z_score(&[5.0]), None);
    }

    #[test]
    fn volatility_is_zero_on_a_flat_series() {
        assert_eq!(volatility(&[5.0, 5.0, 5.0, 5.0]), Some(0.0));
        assert!(volatility(&[1.0, 2.0, 1.0, 2.0]).unwrap() > 10.0);
    }

    #[test]
    fn true_range_counts_gaps_from_the_previous_close() {
        assert_eq!(true_range(12.0, 10.0, None), 2.0);
        assert_eq!(true_range(12.0, 10.0, Some(11.0)), 2.0);
        assert_eq!(true_range(12.0, 10.0, Some(7.0)), 5.0);
        assert_eq!(true_range(12.0, 10.0, Some(15.0)), 5.0);
    }

    #[test]
    fn atr_is_the_smoothed_true_range() {
        let close = [10.0, 11.0, 12.0, 13.0, 14.0];
        let high: Vec<f64> = close.iter().map(|c| c + 1.0).collect();
        let low: Vec<f64> = close.iter().map(|c| c - 1.0).collect();
        // Each true range is 2 (its own range) against a previous close 1 lower.
        assert_eq!(atr(&high, &low, &close, 3), Some(2.0));
        assert_eq!(atr(&high[..3], &low[..3], &close[..3], 3), None);
        let wide = [30.0, 30.0, 30.0, 30.0, 30.0];
        assert!(atr(&wide, &low, &close, 3).unwrap() > 2.0);
    }

    #[test]
    fn larger_is_f64_max() {
        let values = [f64::NAN, f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1.0, f64::INFINITY];
        for a in values {
            for b in values {
                let (ours, std) = (larger(a, b), a.max(b));
                assert!(
                    ours == std || (ours.is_nan() && std.is_nan()),
                    "{a} {b}: {ours} != {std}"
                );
            }
        }
    }
}
