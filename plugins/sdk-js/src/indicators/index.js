// @ts-check
/**
 * Indicators over a column of prices (or of candles' highs, lows and closes), oldest first,
 * that give the same bits in JavaScript, Rust and Python: every SDK runs the same IEEE-754
 * operations in the same order, with its own `ln` (`math.js`) and no `Math.max`, `Math.min`
 * or built-in sums. `docs/plugins/indicators.md` gives each one's formula and warm-up.
 *
 * Each comes twice:
 * - a batch function over a whole column, giving a Float64Array as long, NaN where there is
 *   no value yet (`rsi(closes, 14)`);
 * - a streaming class (`new Rsi(14)`) with `update` (the next value in, its output out),
 *   `peek` (the output `update` would give, without taking the value: for the candle still
 *   forming), `reset` and `last` (every value of a column in turn, the last output out).
 *
 * A value that is not finite (NaN, ±∞) is a gap: its output is NaN. An indicator with a window
 * starts again after a gap; one that smooths (EMA, RSI, ATR, MACD) carries on from the last
 * value before it. A period below 1 throws a RangeError.
 * @module
 */
export { Bollinger, bollinger } from './bollinger.js';
export { RealisedVolatility, RollingStd, realisedVolatility, rollingStd } from './deviation.js';
export { Ema, ema } from './ema.js';
export { RollingMax, RollingMin, rollingMax, rollingMin } from './extremes.js';
export { Macd, macd } from './macd.js';
export { Atr, TrueRange, atr, trueRange } from './range.js';
export { Roc, roc } from './roc.js';
export { Rsi, rsi } from './rsi.js';
export { Sma, sma } from './sma.js';
