// @ts-check
/** Bollinger bands. @module */
import { Indicator, Spread, Window, checkPeriod, finite } from './window.js';

/**
 * The three bands for one value; `middle` is the SMA, the same bits as `Sma`'s.
 * @typedef {{ upper: number, middle: number, lower: number }} Bands
 */

/**
 * The three bands' columns.
 * @typedef {{ upper: Float64Array, middle: Float64Array, lower: Float64Array }} BandColumns
 */

/** @type {Readonly<Bands>} */
const NONE = Object.freeze({ upper: NaN, middle: NaN, lower: NaN });

/**
 * The SMA of the last `period` values, and bands `width` population standard deviations above
 * and below it. First value at the `period`-th value.
 */
export class Bollinger extends Indicator {
  /**
   * @param {number} period At least 1.
   * @param {number} width Standard deviations from the middle to each band, such as 2.
   */
  constructor(period, width) {
    super();
    checkPeriod('bollinger', period, 1);
    /** @private */
    this.window = new Window(period);
    /** @private */
    this.sum = 0;
    /** @private */
    this.spread = new Spread();
    /** @private */
    this.width = width;
    /** @private */
    this.nextSum = 0;
    /** @private */
    this.nextSpread = this.spread;
  }

  /**
   * The output with `value` taken; the sum and spread it would leave in `nextSum` and
   * `nextSpread`.
   * @private
   * @param {number} value
   * @returns {Bands}
   */
  step(value) {
    const sum = this.window.sumWith(this.sum, value);
    const spread = this.window.spreadWith(this.spread, value);
    this.nextSum = sum;
    this.nextSpread = spread;
    if (!this.window.fullWith()) {
      return { ...NONE };
    }
    const n = this.window.length;
    const middle = sum / n;
    const sigma = Math.sqrt(spread.squares() / n);
    return { upper: middle + this.width * sigma, middle, lower: middle - this.width * sigma };
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   * @returns {Bands}
   */
  update(value) {
    if (!finite(value)) {
      this.reset();
      return { ...NONE };
    }
    const out = this.step(value);
    this.window.push(value);
    this.sum = this.nextSum;
    this.spread = this.nextSpread;
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   * @returns {Bands}
   */
  peek(value) {
    return finite(value) ? this.step(value) : { ...NONE };
  }

  /** Forgets every value taken. */
  reset() {
    this.window.clear();
    this.sum = 0;
    this.spread = new Spread();
  }
}

/**
 * `Bollinger` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 * @param {number} width
 * @returns {BandColumns}
 */
export function bollinger(values, period, width) {
  const b = new Bollinger(period, width);
  const out = {
    upper: new Float64Array(values.length),
    middle: new Float64Array(values.length),
    lower: new Float64Array(values.length),
  };
  for (let i = 0; i < values.length; i++) {
    const bands = b.update(values[i]);
    out.upper[i] = bands.upper;
    out.middle[i] = bands.middle;
    out.lower[i] = bands.lower;
  }
  return out;
}
