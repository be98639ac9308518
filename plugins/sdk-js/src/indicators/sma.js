// @ts-check
/** Simple moving average. @module */
import { Indicator, Window, checkPeriod } from './window.js';

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

  /**
   * See `Indicator.run`.
   * @internal
   * @param {ArrayLike<number>} values
   * @param {Float64Array | null} out
   * @returns {number}
   */
  run(values, out) {
    const w = this.window;
    const ring = w.ring;
    const n = ring.length;
    let pos = w.pos;
    let count = w.count;
    let sum = this.sum;
    let last = NaN;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (!(value - value === 0)) {
        pos = 0;
        count = 0;
        sum = 0;
        last = NaN;
      } else {
        if (pos + 1 === n) {
          // The window's sum afresh once a lap, as Window.sumWith.
          let total = 0;
          for (let k = 0; k < n; k++) {
            total = total + (k === pos ? value : ring[k]);
          }
          sum = total;
        } else {
          sum = count === n ? (sum - ring[pos]) + value : sum + value;
        }
        last = count + 1 >= n ? sum / n : NaN;
        ring[pos] = value;
        pos = pos + 1 === n ? 0 : pos + 1;
        count = count + 1 < n ? count + 1 : n;
      }
      if (out !== null) {
        out[i] = last;
      }
    }
    w.pos = pos;
    w.count = count;
    this.sum = sum;
    return last;
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
  const out = new Float64Array(values.length);
  new Sma(period).run(values, out);
  return out;
}
