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
    /** @private */
    this.nextSum = 0;
  }

  /**
   * The output with `value` taken; the sum it would leave in `nextSum`. (No arrays returned:
   * componentize-js runs JavaScript in an interpreter, where destructuring costs.)
   * @private
   * @param {number} value
   */
  step(value) {
    const w = this.window;
    this.nextSum = w.sumWith(this.sum, value);
    return w.count + 1 >= w.ring.length ? this.nextSum / w.ring.length : NaN;
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   */
  update(value) {
    if (!(value - value === 0)) {
      this.reset();
      return NaN;
    }
    const out = this.step(value);
    this.window.push(value);
    this.sum = this.nextSum;
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    return value - value === 0 ? this.step(value) : NaN;
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
