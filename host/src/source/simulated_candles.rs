//! The simulated market's candles: each walk's forming candle per time frame, built from its
//! steps, and a made-up past before it, drawn once per time frame from a seed of its own so
//! that the default run has whole analyses from its first cycle.
//!
//! The past of each time frame is drawn on its own, ending where the walk stood when it was
//! asked for: a simulated hour's candle does not add up from that hour's minute candles.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::walk::{standard_normal, Walk};
use crate::config::SimulatedConfig;
use crate::shared::candle::{Candle, CandleDemand, CandleRows};
use crate::shared::timeframe::{self, TIMEFRAMES};

/// Largest log move of one made-up candle, one standard deviation.
const MAX_CANDLE_SIGMA: f64 = 0.05;

/// One walk's candles of one time frame.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// The candle forming now.
    forming: Candle,
    /// How deep the last past drawn went, in closed candles (lowered with the demand, so a
    /// demand raised again draws again).
    drawn: u32,
}

/// How a made-up past is drawn.
struct Draw {
    /// The market's seed, from which each symbol's and time frame's past is drawn.
    seed: u64,
    /// Log volatility of one step.
    volatility: f64,
    /// How long one step stands for, in ms.
    step_ms: i64,
}

/// Every walk's candles.
pub(super) struct SimulatedCandles {
    /// How the past is drawn.
    draw: Draw,
    /// What the pipeline wants.
    demand: CandleDemand,
    /// Per walk, per time frame (as [`TIMEFRAMES`]), its candles once wanted.
    frames: Vec<[Option<Frame>; TIMEFRAMES.len()]>,
}

impl SimulatedCandles {
    pub(super) fn new(config: &SimulatedConfig, walks: usize) -> Self {
        Self {
            draw: Draw {
                seed: config.seed,
                volatility: config.volatility,
                step_ms: 2_000,
            },
            demand: CandleDemand::default(),
            frames: vec![[None; TIMEFRAMES.len()]; walks],
        }
    }

    /// Sets how long one step of the walk stands for.
    pub(super) fn set_step(&mut self, step_ms: i64) {
        self.draw.step_ms = step_ms.max(1);
    }

    /// Sets what the pipeline wants: a time frame no longer wanted is forgotten (asked for
    /// again, it starts with a new past), a lower depth counts as all that was drawn.
    pub(super) fn want(&mut self, demand: CandleDemand) {
        // Told every cycle; the frames are only walked when the demand changed.
        if demand == self.demand {
            return;
        }
        self.demand = demand;
        for frames in &mut self.frames {
            for (k, frame) in frames.iter_mut().enumerate() {
                match demand.0[k] {
                    0 => *frame = None,
                    depth => {
                        if let Some(frame) = frame {
                            frame.drawn = frame.drawn.min(depth);
                        }
                    }
                }
            }
        }
    }

    /// Takes the walks' new prices into their forming candles at `now_ms` and yields, per walk
    /// and wanted time frame, the forming candle, after a past as deep as wanted when the
    /// depth wanted grew: drawn anew up to the forming candle (replacing, by start time, what
    /// was yielded before).
    pub(super) fn step(&mut self, walks: &[Walk], now_ms: i64) -> Vec<CandleRows> {
        let mut out = Vec::new();
        let wanted: Vec<(usize, u32)> = self
            .demand
            .wanted()
            .map(|(t, depth)| (timeframe::index(t), depth))
            .collect();
        for (i, walk) in walks.iter().enumerate() {
            for &(k, depth) in &wanted {
                let timeframe = TIMEFRAMES[k];
                let start = timeframe::candle_start(timeframe, now_ms);
                let step_volume = walk.turnover_24h / walk.price * self.draw.step_ms as f64 / 86_400_000.0;
                let frame = self.frames[i][k].get_or_insert_with(|| Frame {
                    forming: Candle::opening(start, walk.price),
                    drawn: 0,
                });
                if frame.forming.start_ms != start {
                    frame.forming = Candle::opening(start, frame.forming.close);
                }
                frame.forming.trade(walk.price);
                frame.forming.volume += step_volume;
                frame.forming.turnover += step_volume * walk.price;
                let mut candles = Vec::new();
                if frame.drawn < depth {
                    candles = self.draw.past(i, k, frame.forming, depth, walk.turnover_24h);
                    frame.drawn = depth;
                }
                candles.push(frame.forming);
                out.push(CandleRows {
                    symbol: walk.symbol.clone(),
                    timeframe,
                    candles,
                });
            }
        }
        out
    }
}

impl Draw {
    /// `count` made-up closed candles of time frame `k` before `oldest`, oldest first, the
    /// last closing where `oldest` opens; the same seed, walk, time frame and start draw the
    /// same candles.
    fn past(&self, walk: usize, k: usize, oldest: Candle, count: u32, turnover_24h: f64) -> Vec<Candle> {
        let timeframe = TIMEFRAMES[k];
        let length = timeframe::length_ms(timeframe);
        let steps = length as f64 / self.step_ms as f64;
        let sigma = (self.volatility * steps.sqrt()).min(MAX_CANDLE_SIGMA);
        let seed = self.seed ^ (walk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((k as u64 + 1) << 56);
        let mut rng = SmallRng::seed_from_u64(seed ^ oldest.start_ms as u64);
        let volume_per_candle = turnover_24h * length as f64 / 86_400_000.0;
        let mut close = oldest.open;
        let mut past = Vec::with_capacity(count as usize);
        for j in 1..=i64::from(count) {
            let open = close * (-sigma * standard_normal(&mut rng)).exp();
            let wick = |rng: &mut SmallRng| 1.0 + sigma * 0.5 * standard_normal(rng).abs();
            let volume = volume_per_candle / close * rng.random_range(0.5..1.5);
            past.push(Candle {
                start_ms: oldest.start_ms - j * length,
                open,
                high: open.max(close) * wick(&mut rng),
                low: open.min(close) / wick(&mut rng),
                close,
                volume,
                turnover: volume * (open + close) / 2.0,
            });
            close = open;
        }
        past.reverse();
        past
    }
}

#[cfg(test)]
mod tests {
    use crate::config::SimulatedConfig;
    use crate::shared::candle::CandleDemand;
    use crate::shared::contract::Timeframe;
    use crate::shared::timeframe;
    use crate::source::SimulatedMarket;

    #[test]
    fn yields_a_whole_past_first_then_the_forming_candle_following_the_walk() {
        let mut market = SimulatedMarket::new(&SimulatedConfig::default(), 3);
        let mut demand = CandleDemand::default();
        demand.want(Timeframe::M1, 60);
        demand.want(Timeframe::H1, 30);
        market.want_candles(demand);
        let now = 1_800_000_000_000 + 12_345;
        let first = market.snapshot(now);
        assert_eq!(first.candles.len(), 3 * 2);
        for rows in &first.candles {
            let length = timeframe::length_ms(rows.timeframe);
            let depth = demand.depth(rows.timeframe) as usize;
            assert_eq!(rows.candles.len(), depth + 1, "{}", rows.symbol);
            for pair in rows.candles.windows(2) {
                assert_eq!(pair[1].start_ms, pair[0].start_ms + length);
                assert_eq!(pair[1].open, pair[0].close, "consecutive candles meet");
            }
            assert!(rows.candles.iter().all(|c| c.defect(rows.timeframe).is_none()));
            let forming = rows.candles.last().unwrap();
            let ticker = first.tickers.iter().find(|t| t.symbol == rows.symbol).unwrap();
            assert_eq!(forming.start_ms, timeframe::candle_start(rows.timeframe, now));
            assert_eq!(forming.close, ticker.price);
        }
        let second = market.snapshot(now + 2_000);
        assert!(second.candles.iter().all(|rows| rows.candles.len() == 1));
        let btc = |s: &crate::shared::market::Snapshot| {
            s.candles
                .iter()
                .find(|r| r.symbol == "BTCUSDT" && r.timeframe == Timeframe::M1)
                .unwrap()
                .candles
                .last()
                .copied()
                .unwrap()
        };
        let (before, after) = (btc(&first), btc(&second));
        assert_eq!((after.start_ms, after.open), (before.start_ms, before.open));
        assert!(after.volume > before.volume);
        // A deeper demand draws a past as deep, ending at the forming candle.
        let mut deeper = demand;
        deeper.want(Timeframe::M1, 90);
        market.want_candles(deeper);
        let third = market.snapshot(now + 4_000);
        let rows = third
            .candles
            .iter()
            .find(|r| r.symbol == "BTCUSDT" && r.timeframe == Timeframe::M1)
            .unwrap();
        assert_eq!(rows.candles.len(), 91);
        assert_eq!(rows.candles[89].close, rows.candles[90].open);
        // The same seed draws the same past.
        let mut again = SimulatedMarket::new(&SimulatedConfig::default(), 3);
        again.want_candles(demand);
        assert_eq!(again.snapshot(now).candles, first.candles);
    }
}
