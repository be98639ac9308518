//! One symbol's candles of one time frame, oldest first: what a source's rows, a snapshot's
//! trade and the depth wanted do to them, and the run of them a plugin is handed.

use std::collections::VecDeque;

use crate::shared::candle::{Candle, CandleRows};
use crate::shared::contract::Timeframe;
use crate::shared::market::Rejections;
use crate::shared::timeframe;

/// Merges a source's candles into a series: a candle replaces the one of the same start;
/// candles in the future of `now_ms` and invalid ones are refused. Returns whether the series
/// changed shape (anything but its last candle replaced).
pub(super) fn merge(
    series: &mut VecDeque<Candle>,
    rows: &CandleRows,
    now_ms: i64,
    rejections: &mut Rejections,
) -> bool {
    let timeframe = rows.timeframe;
    let forming_start = timeframe::candle_start(timeframe, now_ms);
    let valid = rows.candles.iter().filter(|c| {
        let defect = c
            .defect(timeframe)
            .or((c.start_ms > forming_start).then_some("candle in the future"));
        if let Some(reason) = defect {
            *rejections.entry(reason).or_default() += 1;
        }
        defect.is_none()
    });
    let mut reshaped = false;
    for &candle in valid {
        // Most rows are the forming candle again or the next one: no search for those.
        match series.back_mut() {
            Some(last) if last.start_ms == candle.start_ms => *last = candle,
            Some(last) if last.start_ms > candle.start_ms => {
                reshaped = true;
                match series.binary_search_by_key(&candle.start_ms, |c| c.start_ms) {
                    Ok(i) => series[i] = candle,
                    Err(i) => series.insert(i, candle),
                }
            }
            _ => {
                reshaped = true;
                series.push_back(candle);
            }
        }
    }
    reshaped
}

/// How many candles at the end of `series` follow each other without a gap.
pub(super) fn consecutive_run(series: &VecDeque<Candle>, timeframe: Timeframe) -> usize {
    let length = timeframe::length_ms(timeframe);
    let mut run = usize::from(!series.is_empty());
    while run < series.len() && series[series.len() - run - 1].start_ms + length == series[series.len() - run].start_ms
    {
        run += 1;
    }
    run
}

/// A trade at `price` at `now_ms` into the series: the forming candle follows it, or a new
/// candle opens at it. Returns whether the series changed shape (a candle opened).
pub(super) fn trade(series: &mut VecDeque<Candle>, timeframe: Timeframe, price: f64, now_ms: i64) -> bool {
    let start = timeframe::candle_start(timeframe, now_ms);
    match series.back_mut() {
        Some(last) if last.start_ms == start => last.trade(price),
        Some(last) if last.start_ms > start => {}
        _ => {
            series.push_back(Candle::opening(start, price));
            return true;
        }
    }
    false
}

/// Forgets candles that started more than `depth` candles before the one forming at `now_ms`,
/// and candles that start after it. Returns whether any was forgotten.
pub(super) fn trim(series: &mut VecDeque<Candle>, timeframe: Timeframe, depth: u32, now_ms: i64) -> bool {
    let forming = timeframe::candle_start(timeframe, now_ms);
    let oldest = forming - i64::from(depth) * timeframe::length_ms(timeframe);
    let before = series.len();
    while series.front().is_some_and(|c| c.start_ms < oldest) {
        series.pop_front();
    }
    while series.back().is_some_and(|c| c.start_ms > forming) {
        series.pop_back();
    }
    series.len() != before
}
