//! Writing symbols' candles into handed columns: from each symbol's own series, or copied from
//! another buffer of the same shape where the symbols moved in the turnover order.
//!
//! The contract's layout is positional (symbol `i`'s candles follow those of symbols `0..i`),
//! so a symbol that moves takes its candles with it, and one that rises in the order shifts
//! every symbol it passes. Written from their series (one ring buffer per symbol, spread over
//! the heap, a candle's fields side by side) that was most of a 10,000-symbol market's time;
//! copied from the last buffer handed, a run of symbols that kept their neighbours is one
//! contiguous copy per column.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;

use super::series::consecutive_run;
use crate::shared::candle::Candle;
use crate::shared::columns::Columns;
use crate::shared::contract::{CandleColumns, Candles, Timeframe};
use crate::shared::needs::empty_candles;
use crate::shared::timeframe;

/// One symbol's candles of one time frame, and the stamp of their last change of shape (a
/// candle opened, inserted or forgotten): stamps are never reused, so an equal stamp means the
/// same symbol with candles of the same starts, only its last candle perhaps moved.
pub(super) type StampedSeries<'a> = (&'a VecDeque<Candle>, u64);

/// What every symbol's candles are handed at, beside their own stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    /// The start of the candle forming at the time handed (it tells forming from closed).
    pub(super) forming_start: i64,
    /// Closed candles handed per symbol, at most.
    pub(super) depth: usize,
    /// The columns filled; the others stay empty.
    pub(super) columns: Columns,
}

impl Shape {
    /// The shape of `timeframe`'s candles handed at `now_ms`, `depth` deep, in `columns`.
    pub(super) fn at(timeframe: Timeframe, depth: u32, columns: Columns, now_ms: i64) -> Self {
        Self {
            forming_start: timeframe::candle_start(timeframe, now_ms),
            depth: depth as usize,
            columns,
        }
    }
}

/// A price or volume column: its flag and the field of a candle it holds.
type PriceColumn = (CandleColumns, fn(&Candle) -> f64);

/// The price and volume columns, in the order of [`prices`].
const PRICES: [PriceColumn; 6] = [
    (CandleColumns::OPEN, |c| c.open),
    (CandleColumns::HIGH, |c| c.high),
    (CandleColumns::LOW, |c| c.low),
    (CandleColumns::CLOSE, |c| c.close),
    (CandleColumns::VOLUME, |c| c.volume),
    (CandleColumns::TURNOVER, |c| c.turnover),
];

/// The price and volume columns of `c`, in the order of [`PRICES`].
fn prices(c: &mut Candles) -> [&mut Vec<f64>; 6] {
    [
        &mut c.open,
        &mut c.high,
        &mut c.low,
        &mut c.close,
        &mut c.volume,
        &mut c.turnover,
    ]
}

/// The same columns of a buffer only read.
fn prices_of(c: &Candles) -> [&Vec<f64>; 6] {
    [&c.open, &c.high, &c.low, &c.close, &c.volume, &c.turnover]
}

/// The candles of `series` at `shape`, in new memory.
pub(super) fn built(series: &[StampedSeries<'_>], timeframe: Timeframe, shape: Shape) -> Candles {
    let mut c = empty_candles(timeframe);
    fill_from(&mut c, &mut Vec::new(), 0, 0, series, shape);
    c
}

/// Writes `c` from symbol `from` on (whose candles start at `end`) with the candles of
/// `series`, truncating what was there: at most `shape.depth` closed candles each and the
/// forming one, in one pass over the store, each symbol's run copied while it is in cache.
pub(super) fn fill_from(
    c: &mut Candles,
    stamps: &mut Vec<u64>,
    from: usize,
    end: usize,
    series: &[StampedSeries<'_>],
    shape: Shape,
) {
    cut(c, stamps, from, end, (series.len() - from) * (shape.depth + 1), shape);
    for &(series, stamp) in &series[from..] {
        push(c, series, shape);
        stamps.push(stamp);
    }
}

/// Writes `c` with the candles of `series`, taking those of each symbol whose stamp `source`
/// holds from there (its candles have the same starts, so only its last one may differ and is
/// written again), runs of neighbours in one copy per column; the others from their series.
pub(super) fn rearranged(
    c: &mut Candles,
    stamps: &mut Vec<u64>,
    (source, source_stamps): (&Candles, &[u64]),
    series: &[StampedSeries<'_>],
    shape: Shape,
) {
    let position: HashMap<u64, usize> = source_stamps.iter().enumerate().map(|(p, &s)| (s, p)).collect();
    let mut offsets = Vec::with_capacity(source.lengths.len() + 1);
    offsets.push(0);
    for &length in &source.lengths {
        offsets.push(offsets[offsets.len() - 1] + length as usize);
    }
    cut(c, stamps, 0, 0, series.len() * (shape.depth + 1), shape);
    let mut run: Option<Range<usize>> = None;
    for &(candles, stamp) in series {
        match position.get(&stamp) {
            Some(&p) if run.as_ref().is_some_and(|r| r.end == p) => {
                run.as_mut().expect("a run").end += 1;
            }
            Some(&p) => {
                copy(c, source, &offsets, run.replace(p..p + 1), shape);
            }
            None => {
                copy(c, source, &offsets, run.take(), shape);
                push(c, candles, shape);
            }
        }
        stamps.push(stamp);
    }
    copy(c, source, &offsets, run, shape);
    let mut end = 0;
    for (i, &(candles, _)) in series.iter().enumerate() {
        let length = c.lengths[i] as usize;
        end += length;
        if let Some(last) = candles.back().filter(|_| length > 0) {
            write(c, end - 1, last, shape.columns);
        }
    }
}

/// Appends the candles of `symbols` of `source` (whose candles start at `offsets`) to `c`.
fn copy(c: &mut Candles, source: &Candles, offsets: &[usize], symbols: Option<Range<usize>>, shape: Shape) {
    let Some(symbols) = symbols else {
        return;
    };
    let candles = offsets[symbols.start]..offsets[symbols.end];
    for ((column, from), (flag, _)) in prices(c).into_iter().zip(prices_of(source)).zip(PRICES) {
        if shape.columns.has(flag) {
            column.extend_from_slice(&from[candles.clone()]);
        }
    }
    if shape.columns.has(CandleColumns::START_MS) {
        c.start_ms.extend_from_slice(&source.start_ms[candles]);
    }
    c.lengths.extend_from_slice(&source.lengths[symbols.clone()]);
    c.forming.extend_from_slice(&source.forming[symbols]);
}

/// Cuts `c` to its first `from` symbols (whose candles end at `end`), with room for `more`
/// candles in the columns `shape` holds; the others give their memory back.
fn cut(c: &mut Candles, stamps: &mut Vec<u64>, from: usize, end: usize, more: usize, shape: Shape) {
    for (column, (flag, _)) in prices(c).into_iter().zip(PRICES) {
        keep_or_free(column, shape.columns.has(flag), end, more);
    }
    keep_or_free(&mut c.start_ms, shape.columns.has(CandleColumns::START_MS), end, more);
    c.lengths.truncate(from);
    c.forming.truncate(from);
    stamps.truncate(from);
}

/// Appends one symbol's candles at `shape` to `c`, column by column: they stay in cache
/// between columns.
fn push(c: &mut Candles, series: &VecDeque<Candle>, shape: Shape) {
    let (run, forming) = run_of(series, c.timeframe, shape);
    let run_of_candles = || series.range(series.len() - run..);
    if shape.columns.has(CandleColumns::START_MS) {
        c.start_ms.extend(run_of_candles().map(|candle| candle.start_ms));
    }
    for (column, (flag, field)) in prices(c).into_iter().zip(PRICES) {
        if shape.columns.has(flag) {
            column.extend(run_of_candles().map(field));
        }
    }
    c.lengths.push(run as u32);
    c.forming.push(forming);
}

/// `column` cut to its first `end` values with room for `more`, if `kept`; else emptied and
/// its memory given back.
fn keep_or_free<T>(column: &mut Vec<T>, kept: bool, end: usize, more: usize) {
    if kept {
        column.truncate(end);
        column.reserve(more);
    } else {
        *column = Vec::new();
    }
}

/// How many of the last candles of `series` are handed at `shape` (at most `depth` closed
/// ones and the forming one, without a gap), and whether the last of them is forming.
pub(super) fn run_of(series: &VecDeque<Candle>, timeframe: Timeframe, shape: Shape) -> (usize, bool) {
    let forming = series.back().is_some_and(|last| last.start_ms == shape.forming_start);
    let run = consecutive_run(series, timeframe).min(shape.depth + usize::from(forming));
    (run, forming && run > 0)
}

/// Writes the prices, volume and turnover of `candle` at `at` in `c`, in the `columns` it holds.
pub(super) fn write(c: &mut Candles, at: usize, candle: &Candle, columns: crate::shared::columns::Columns) {
    for (column, (flag, field)) in prices(c).into_iter().zip(PRICES) {
        if columns.has(flag) {
            column[at] = field(candle);
        }
    }
}
