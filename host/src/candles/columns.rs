//! One time frame's candles as plugins are handed them: the contract's column-wise `candles`
//! record, kept across cycles and updated in place. Between two changes of a symbol's shape
//! (a candle opened, trimmed, fetched into the middle) only its last candle moves, so a cycle
//! rewrites that candle, the candles of symbols that changed shape or moved in the turnover
//! order, and from the first symbol whose candles are not as many as before, the rest. When
//! many symbols moved, the buffer is written instead from the last one handed (`writes`).

use std::sync::Arc;

use crate::shared::columns::Columns;
use crate::shared::contract::{CandleColumns, Candles, Timeframe};
use crate::shared::needs::empty_candles;

use super::writes::{fill_from, rearranged, run_of, write, Shape, StampedSeries};

/// Buffers kept per time frame: one for the cycle being built, one the last cycle's market
/// may still hold (a trial call reads it), and one spare for a call that outlives its cycle.
const MOST_BUFFERS: usize = 3;

/// A buffer of handed candles and what it holds.
#[derive(Debug)]
struct Buffer {
    /// The candles, shared with the markets built from them.
    candles: Arc<Candles>,
    /// The shape they were built at.
    shape: Shape,
    /// The stamp of each symbol's candles as written, in the market's order.
    stamps: Vec<u64>,
    /// When it was last handed: the higher, the newer.
    handed: u64,
}

/// The buffers of one time frame.
#[derive(Debug, Default)]
pub(super) struct TimeframeBuffers {
    /// Up to [`MOST_BUFFERS`], reused once no market holds them.
    buffers: Vec<Buffer>,
    /// Buffers handed so far.
    count: u64,
}

impl TimeframeBuffers {
    /// The candles of `series` (one per symbol, in the market's order) at `shape`, in a buffer
    /// no market holds any longer: one of the same shape is brought up to date (each symbol's
    /// last candle rewritten, the candles of a symbol whose stamp differs written again), or,
    /// when more than an eighth of the symbols differ from it, written from the newest buffer
    /// of that shape (a copy per run of neighbours); otherwise a free buffer is refilled (its
    /// memory reused), or a new one made.
    pub(super) fn hand(&mut self, series: &[StampedSeries<'_>], timeframe: Timeframe, shape: Shape) -> Arc<Candles> {
        let free = |b: &mut Buffer| Arc::get_mut(&mut b.candles).is_some();
        let at = match self.buffers.iter_mut().position(|b| b.shape == shape && free(b)) {
            Some(at) => at,
            None => self.free_buffer(timeframe),
        };
        let newest = (0..self.buffers.len())
            .filter(|&other| other != at && self.buffers[other].shape == shape)
            .max_by_key(|&other| self.buffers[other].handed);
        let moved = match &self.buffers[at] {
            b if b.shape == shape => moved(&b.stamps, series),
            _ => series.len(),
        };
        self.count += 1;
        let (b, newest) = pick(&mut self.buffers, at, newest.filter(|_| moved > series.len() / 8));
        let c = Arc::get_mut(&mut b.candles).expect("free");
        if let Some(source) = newest {
            rearranged(c, &mut b.stamps, (&source.candles, &source.stamps), series, shape);
        } else {
            let (from, end) = if b.shape == shape {
                update(c, &mut b.stamps, series, shape)
            } else {
                (0, 0)
            };
            if from < series.len() || b.stamps.len() != series.len() {
                fill_from(c, &mut b.stamps, from, end, series, shape);
            }
        }
        b.shape = shape;
        b.handed = self.count;
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
            handed: 0,
        });
        self.buffers.len() - 1
    }

    /// Forgets every buffer (the time frame is no longer wanted).
    pub(super) fn clear(&mut self) {
        self.buffers.clear();
    }
}

/// How many symbols of `series` are not where `stamps` has them.
fn moved(stamps: &[u64], series: &[StampedSeries<'_>]) -> usize {
    let kept = stamps.iter().zip(series).filter(|(&was, &(_, is))| was == is).count();
    series.len() - kept
}

/// The buffer at `at`, to write, and the one at `source`, to read.
fn pick(buffers: &mut [Buffer], at: usize, source: Option<usize>) -> (&mut Buffer, Option<&Buffer>) {
    match source {
        Some(source) if source < at => {
            let (before, from_at) = buffers.split_at_mut(at);
            (&mut from_at[0], Some(&before[source]))
        }
        Some(source) => {
            let (to_source, from_source) = buffers.split_at_mut(source);
            (&mut to_source[at], Some(&from_source[0]))
        }
        None => (&mut buffers[at], None),
    }
}

/// Brings `c`, written at `stamps` and `shape`, up to date with `series` at the same shape,
/// symbol by symbol: an unchanged stamp rewrites the last candle, a changed one all the
/// symbol's candles if they are as many as before. Returns the first symbol it could not
/// update so (its candles are not as many, or it is new) and where its candles start.
fn update(c: &mut Candles, stamps: &mut [u64], series: &[StampedSeries<'_>], shape: Shape) -> (usize, usize) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use crate::candles::writes::built;
    use crate::shared::candle::Candle;

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
        let mut handed = TimeframeBuffers::default();
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
        let mut handed = TimeframeBuffers::default();
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
        let mut handed = TimeframeBuffers::default();
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

    #[test]
    fn symbols_that_moved_are_copied_from_the_newest_buffer_in_runs_of_neighbours() {
        let (mut a, b, c, mut d) = (
            series(&[1.0, 2.0]),
            series(&[3.0]),
            series(&[4.0, 5.0, 6.0]),
            series(&[7.0]),
        );
        let at = Shape::at(Timeframe::M1, 5, Columns::all(), 120_000);
        let mut handed = TimeframeBuffers::default();
        let held = handed.hand(&[(&a, 1), (&b, 2), (&c, 3), (&d, 4)], Timeframe::M1, at);
        // D rises to the top, A's last candle trades, D gains a candle (a new stamp): A, B
        // and C are one run copied from the held buffer, D is written from its series.
        a.back_mut().unwrap().trade(2.5);
        d.push_back(Candle::opening(60_000, 8.0));
        let order = [(&d, 5), (&a, 1), (&b, 2), (&c, 3)];
        let moved = handed.hand(&order, Timeframe::M1, at);
        assert_ne!(address(&moved), address(&held));
        assert_eq!(format!("{moved:?}"), format!("{:?}", built(&order, Timeframe::M1, at)));
        assert_eq!(moved.close, [7.0, 8.0, 1.0, 2.5, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            held.close,
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "the held buffer is read, not written"
        );
    }
}
