//! Candle time frames: their lengths, names and order.

use super::contract::Timeframe;

/// Every time frame, shortest first.
pub const TIMEFRAMES: [Timeframe; 6] = [
    Timeframe::M1,
    Timeframe::M5,
    Timeframe::M15,
    Timeframe::H1,
    Timeframe::H4,
    Timeframe::D1,
];

/// The length of one candle of `timeframe`, in milliseconds.
pub fn length_ms(timeframe: Timeframe) -> i64 {
    const MINUTE: i64 = 60_000;
    match timeframe {
        Timeframe::M1 => MINUTE,
        Timeframe::M5 => 5 * MINUTE,
        Timeframe::M15 => 15 * MINUTE,
        Timeframe::H1 => 60 * MINUTE,
        Timeframe::H4 => 240 * MINUTE,
        Timeframe::D1 => 1_440 * MINUTE,
    }
}

/// Where `timeframe` stands in [`TIMEFRAMES`], for ordering and indexing.
pub fn index(timeframe: Timeframe) -> usize {
    TIMEFRAMES
        .iter()
        .position(|&t| t == timeframe)
        .expect("every time frame is listed")
}

/// How traders write it (`1m`, `5m`, `15m`, `1h`, `4h`, `1d`), for logs, status and docs.
pub fn label(timeframe: Timeframe) -> &'static str {
    ["1m", "5m", "15m", "1h", "4h", "1d"][index(timeframe)]
}

/// The open time of the candle of `timeframe` that `time_ms` falls in.
pub fn candle_start(timeframe: Timeframe, time_ms: i64) -> i64 {
    time_ms - time_ms.rem_euclid(length_ms(timeframe))
}
