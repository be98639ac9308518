//! One time frame's candles as plugins are handed them: the contract's column-wise `candles`
//! record, kept across cycles and updated in place. Between two changes of a symbol's shape
//! (a candle opened, trimmed, fetched into the middle) only its last candle moves, so a cycle
//! rewrites that candle, the candles of symbols that changed shape or moved in the turnover
//! order, and from the first symbol whose candles are not as many as before, the rest.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::shared::candle::Candle;
use crate::shared::columns::Columns;
use crate::shared::contract::{CandleColumns, Candles, Timeframe};
use crate::shared::needs::empty_candles;
use crate::shared::timeframe;

use super::series::consecutive_run;

/// Buffers kept per time frame: one for the cycle being built, one the last cycle's market
/// may still hold (a trial call reads it), and one spare for a call that outlives its cycle.
const MOST_BUFFERS: usize = 3;

/// One symbol's candles of one time frame, and the stamp of their last change of shape (a
/// candle opened, inserted or forgotten): stamps are never reused, so an equal stamp means the
/// same symbol with candles of the same starts, only its last candle perhaps moved.
pub(super) type Stamped<'a> = (&'a VecDeque<Candle>, u64);

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

/// A buffer of handed candles and what it holds.
#[derive(Debug)]
struct Buffer {
    /// The candles, shared with the markets built from them.
    candles: Arc<Candles>,
    /// The shape they were built at.
    shape: Shape,
    /// The stamp of each symbol's candles as written, in the market's order.
    stamps: Vec<u64>,
}

/// The buffers of one time frame.
#[derive(Debug, Default)]
pub(super) struct Handed {
    /// Up to [`MOST_BUFFERS`], reused once no market holds them.
    buffers: Vec<Buffer>,
}

impl Handed {
    /// The candles of `series` (one per symbol, in the market's order) at `shape`, in a buffer
    /// no market holds any longer: one of the same shape is brought up to date (each symbol's
    /// last candle rewritten, the candles of a symbol whose stamp differs written again);
    /// otherwise a free buffer is refilled (its memory reused), or a new one made.
    pub(super) fn hand(&mut self, series: &[Stamped<'_>], timeframe: Timeframe, shape: Shape) -> Arc<Candles> {
        let free = |b: &mut Buffer| Arc::get_mut(&mut b.candles).is_some();
        let at = match self.buffers.iter_mut().position(|b| b.shape == shape && free(b)) {
            Some(at) => at,
            None => self.free_buffer(timeframe),
        };
        let b = &mut self.buffers[at];
        let c = Arc::get_mut(&mut b.candles).expect("free");
        let (from, end) = if b.shape == shape {
            update(c, &mut b.stamps, series, shape)
        } else {
            (0, 0)
        };
        if from < series.len() || b.stamps.len() != series.len() {
            fill_from(c, &mut b.stamps, from, end, series, shape);
        }
        b.shape = shape;
        b.candles.clone()
    }

    /// The index of a buffer no market holds, made if there is none; its shape is none a
    /// symbol can be handed at.
    fn free_buffer(&mut self, timeframe: Timeframe) -> usize {
        let unshaped = Shape {
            forming_start: i64::MIN,
            depth: 0,
            columns: Columns(CandleColumns::empty()),
        };
        if let Some(at) = self
            .buffers
            .iter_mut()
            .position(|b| Arc::get_mut(&mut b.candles).is_some())
        {
            self.buffers[at].shape = unshaped;
            return at;
        }
        if self.buffers.len() == MOST_BUFFERS {
            // Held by markets still in use: theirs now, freed when they drop.
            self.buffers.remove(0);
        }
        self.buffers.push(Buffer {
            candles: Arc::new(empty_candles(timeframe)),
            shape: unshaped,
            stamps: Vec::new(),
        });
        self.buffers.len() - 1
    }

    /// Forgets every buffer (the time frame is no longer wanted).
    pub(super) fn clear(&mut self) {
        self.buffers.clear();
    }
}

/// Brings `c`, written at `stamps` and `shape`, up to date with `series` at the same shape,
/// symbol by symbol: an unchanged stamp rewrites the last candle, a changed one all the
/// symbol's candles if they are as many as before. Returns the first symbol it could not
/// update so (its candles are not as many, or it is new) and where its candles start.
fn update(c: &mut Candles, stamps: &mut [u64], series: &[Stamped<'_>], shape: Shape) -> (usize, usize) {
    let timeframe = c.timeframe;
    let starts = shape.columns.has(CandleColumns::START_MS);
    let mut end = 0;
    for (i, &(series, stamp)) in series.iter().enumerate().take(stamps.len()) {
        let length = c.lengths[i] as usize;
        if stamps[i] == stamp {
            if let Some(last) = series.back().filter(|_| length > 0) {
                write(c, end + length - 1, last, shape.columns);
            }
        } else {
            let (run, forming) = run_of(series, timeframe, shape);
            if run != length {
                return (i, end);
            }
            for (at, candle) in (end..).zip(series.range(series.len() - run..)) {
                if starts {
                    c.start_ms[at] = candle.start_ms;
                }
                write(c, at, candle, shape.columns);
            }
            c.forming[i] = forming;
            stamps[i] = stamp;
        }
        end += length;
    }
    (series.len().min(stamps.len()), end)
}

/// The candles of `series` at `shape`, in new memory.
pub(super) fn built(series: &[Stamped<'_>], timeframe: Timeframe, shape: Shape) -> Candles {
    let mut c = empty_candles(timeframe);
    fill_from(&mut c, &mut Vec::new(), 0, 0, series, shape);
    c
}

/// Writes `c` from symbol `from` on (whose candles start at `end`) with the candles of
/// `series`, truncating what was there: at most `shape.depth` closed candles each and the
/// forming one, in one pass over the store, each symbol's run copied while it is in cache.
fn fill_from(c: &mut Candles, stamps: &mut Vec<u64>, from: usize, end: usize, series: &[Stamped<'_>], shape: Shape) {
    let most = (series.len() - from) * (shape.depth + 1);
    let starts = shape.columns.has(CandleColumns::START_MS);
    // A column no plugin reads any more gives its memory back.
    for (column, (flag, _)) in prices(c).into_iter().zip(PRICES) {
        keep_or_free(column, shape.columns.has(flag), end, most);
    }
    keep_or_free(&mut c.start_ms, starts, end, most);
    c.lengths.truncate(from);
    c.forming.truncate(from);
    stamps.truncate(from);
    for &(series, stamp) in &series[from..] {
        let (run, forming) = run_of(series, c.timeframe, shape);
        let run_of_candles = || series.range(series.len() - run..);
        if starts {
            c.start_ms.extend(run_of_candles().map(|candle| candle.start_ms));
        }
        // Column by column: the symbol's candles stay in cache between them.
        for (column, (flag, field)) in prices(c).into_iter().zip(PRICES) {
            if shape.columns.has(flag) {
                column.extend(run_of_candles().map(field));
            }
        }
        c.lengths.push(run as u32);
        c.forming.push(forming);
        stamps.push(stamp);
    }
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
fn run_of(series: &VecDeque<Candle>, timeframe: Timeframe, shape: Shape) -> (usize, bool) {
    let forming = series.back().is_some_and(|last| last.start_ms == shape.forming_start);
    let run = consecutive_run(series, timeframe).min(shape.depth + usize::from(forming));
    (run, forming && run > 0)
}

/// Writes the prices, volume and turnover of `candle` at `at` in `c`, in the `columns` it holds.
fn write(c: &mut Candles, at: usize, candle: &Candle, columns: Columns) {
    for (column, (flag, field)) in prices(c).into_iter().zip(PRICES) {
        if columns.has(flag) {
            column[at] = field(candle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(closes: &[f64]) -> VecDeque<Candle> {
        closes
            .iter()
            .enumerate()
            .map(|(i, &close)| Candle::opening(i as i64 * 60_000, close))
            .collect()
    }

    fn address(c: &Arc<Candles>) -> *const Candles {
        Arc::as_ptr(c)
    }

    #[test]
    fn a_free_buffer_is_updated_in_place_and_a_held_one_left_alone() {
        let (mut a, b) = (series(&[1.0, 2.0, 3.0]), series(&[5.0]));
        let at = Shape::at(Timeframe::M1, 5, Columns::all(), 120_000);
        let mut handed = Handed::default();
        let first = handed.hand(&[(&a, 1), (&b, 2)], Timeframe::M1, at);
        assert_eq!(
            (&first.lengths[..], &first.close[..]),
            (&[3, 1][..], &[1.0, 2.0, 3.0, 5.0][..])
        );
        let held = address(&first);
        // The first market still holds its buffer: the next cycle's candles go to another.
        a.back_mut().unwrap().trade(4.0);
        let second = handed.hand(&[(&a, 1), (&b, 2)], Timeframe::M1, at);
        assert_ne!(address(&second), held);
        assert_eq!(first.close, [1.0, 2.0, 3.0, 5.0]);
        assert_eq!(second.close, [1.0, 2.0, 4.0, 5.0]);
        // Once the first market is dropped, its buffer is updated: the last candles only.
        drop(first);
        a.back_mut().unwrap().trade(0.5);
        let third = handed.hand(&[(&a, 1), (&b, 2)], Timeframe::M1, at);
        assert_eq!(address(&third), held);
        assert_eq!((third.close[2], third.high[2], third.low[2]), (0.5, 4.0, 0.5));
        assert_eq!(third.start_ms, [0, 60_000, 120_000, 0]);
    }

    #[test]
    fn symbols_that_moved_or_changed_shape_are_written_again() {
        let (a, c) = (series(&[1.0, 2.0]), series(&[5.0]));
        // B's two candles closed a minute before A's.
        let b: VecDeque<Candle> = series(&[3.0, 4.0])
            .into_iter()
            .map(|c| Candle {
                start_ms: c.start_ms - 60_000,
                ..c
            })
            .collect();
        let at = Shape::at(Timeframe::M1, 5, Columns::all(), 60_000);
        let mut handed = Handed::default();
        drop(handed.hand(&[(&a, 1), (&b, 2), (&c, 3)], Timeframe::M1, at));
        // A and B swap places: as many candles each, written where they now are.
        let swapped = handed.hand(&[(&b, 2), (&a, 1), (&c, 3)], Timeframe::M1, at);
        assert_eq!(swapped.close, [3.0, 4.0, 1.0, 2.0, 5.0]);
        assert_eq!(swapped.start_ms, [-60_000, 0, 0, 60_000, 0]);
        assert_eq!(swapped.forming, [false, true, false]);
        drop(swapped);
        // A gains a candle (a new stamp): it and every symbol after it are written again.
        let mut longer = a.clone();
        longer.push_back(Candle::opening(120_000, 2.5));
        let next = handed.hand(
            &[(&b, 2), (&longer, 4), (&c, 3)],
            Timeframe::M1,
            Shape::at(Timeframe::M1, 5, Columns::all(), 120_000),
        );
        assert_eq!(next.close, [3.0, 4.0, 1.0, 2.0, 2.5, 5.0]);
        assert_eq!(
            (&next.lengths[..], &next.forming[..]),
            (&[2, 3, 1][..], &[false, true, false][..])
        );
        drop(next);
        // A symbol gone: the columns end where its candles began.
        let fewer = handed.hand(
            &[(&b, 2)],
            Timeframe::M1,
            Shape::at(Timeframe::M1, 5, Columns::all(), 120_000),
        );
        assert_eq!((&fewer.lengths[..], &fewer.close[..]), (&[2][..], &[3.0, 4.0][..]));
        assert_eq!(handed.buffers.len(), 1);
    }

    #[test]
    fn only_the_columns_wanted_are_written_kept_and_updated() {
        let mut a = series(&[1.0, 2.0]);
        let closes = Shape::at(Timeframe::M1, 5, Columns(CandleColumns::CLOSE), 60_000);
        let mut handed = Handed::default();
        let first = handed.hand(&[(&a, 1)], Timeframe::M1, closes);
        assert_eq!((&first.lengths[..], &first.close[..]), (&[2][..], &[1.0, 2.0][..]));
        assert!(first.start_ms.is_empty() && first.open.is_empty() && first.turnover.is_empty());
        drop(first);
        a.back_mut().unwrap().trade(3.0);
        let updated = handed.hand(&[(&a, 1)], Timeframe::M1, closes);
        assert_eq!((&updated.close[..], updated.high.len()), (&[1.0, 3.0][..], 0));
        drop(updated);
        // A plugin that reads highs too: the buffer is filled again with both.
        let more = Shape::at(
            Timeframe::M1,
            5,
            Columns(CandleColumns::CLOSE | CandleColumns::HIGH),
            60_000,
        );
        let both = handed.hand(&[(&a, 1)], Timeframe::M1, more);
        assert_eq!((&both.close[..], &both.high[..]), (&[1.0, 3.0][..], &[1.0, 3.0][..]));
        assert!(both.low.is_empty());
    }
}
