// @ts-check
/** Moving average convergence divergence. @module */
import { Ema } from './ema.js';
import { Indicator, checkPeriod } from './window.js';

/**
 * MACD's three figures for one value: the fast EMA less the slow one, the EMA of that over the
 * signal period, and the first less the second.
 * @typedef {{ macd: number, signal: number, histogram: number }} MacdValue
 */

/**
 * MACD's three columns.
 * @typedef {{ macd: Float64Array, signal: Float64Array, histogram: Float64Array }} MacdColumns
 */

/** @type {Readonly<MacdValue>} */
const NONE = Object.freeze({ macd: NaN, signal: NaN, histogram: NaN });

/**
 * The EMA over `fast` values less the one over `slow`; the signal line is the EMA over
 * `signal` of those values; the histogram the MACD less the signal.
 */
export class Macd extends Indicator {
  /**
   * @param {number} fast At least 1.
   * @param {number} slow At least 1.
   * @param {number} signal At least 1.
   */
  constructor(fast, slow, signal) {
    super();
    checkPeriod('macd (fast)', fast, 1);
    checkPeriod('macd (slow)', slow, 1);
    checkPeriod('macd (signal)', signal, 1);
    /** @private */
    this.fast = new Ema(fast);
    /** @private */
    this.slow = new Ema(slow);
    /** @private */
    this.signal = new Ema(signal);
  }

  /**
   * @private
   * @param {number} value
   */
  line(value) {
    return this.fast.peek(value) - this.slow.peek(value);
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   * @returns {MacdValue}
   */
  update(value) {
    const macd = this.line(value);
    this.fast.update(value);
    this.slow.update(value);
    if ((macd !== macd)) {
      return { ...NONE };
    }
    const signal = this.signal.update(macd);
    return { macd, signal, histogram: macd - signal };
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   * @returns {MacdValue}
   */
  peek(value) {
    const macd = this.line(value);
    if ((macd !== macd)) {
      return { ...NONE };
    }
    const signal = this.signal.peek(macd);
    return { macd, signal, histogram: macd - signal };
  }

  /** Forgets every value taken. */
  reset() {
    this.fast.reset();
    this.slow.reset();
    this.signal.reset();
  }
}

/**
 * `Macd` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} fast
 * @param {number} slow
 * @param {number} signal
 * @returns {MacdColumns}
 */
export function macd(values, fast, slow, signal) {
  const m = new Macd(fast, slow, signal);
  const out = {
    macd: new Float64Array(values.length),
    signal: new Float64Array(values.length),
    histogram: new Float64Array(values.length),
  };
  for (let i = 0; i < values.length; i++) {
    const v = m.update(values[i]);
    out.macd[i] = v.macd;
    out.signal[i] = v.signal;
    out.histogram[i] = v.histogram;
  }
  return out;
}
