// @ts-check
/** Simple moving average. @module */
import { Indicator, Window, checkPeriod, column } from './window.js';

/** The mean of the last `period` values. First value at the `period`-th value. */
export class Sma extends Indicator {
  /** @param {number} period At least 1. */
  constructor(period) {
    super();
    checkPeriod('sma', period, 1);
    /** @private */
    this.window = new Window(period);
    /** @private */
    this.sum = 0;
  }

  /**
   * @private
   * @param {number} value
   * @returns {[number, number]}
   */
  step(value) {
    const sum = this.window.sumWith(this.sum, value);
    return [sum, this.window.fullWith() ? sum / this.window.length : NaN];
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   */
  update(value) {
    if (!Number.isFinite(value)) {
      this.reset();
      return NaN;
    }
    const [sum, out] = this.step(value);
    this.window.push(value);
    this.sum = sum;
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    return Number.isFinite(value) ? this.step(value)[1] : NaN;
  }

  /** Forgets every value taken. */
  reset() {
    this.window.clear();
    this.sum = 0;
  }
}

/**
 * `Sma` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function sma(values, period) {
  const s = new Sma(period);
  return column((v) => s.update(v), values);
}
