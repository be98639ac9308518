// @ts-check
/** Exponential moving average. @module */
import { Indicator, checkPeriod } from './window.js';

/**
 * `e = x[0]`, then `e += α·(x − e)` with `α = 2 / (period + 1)`. First value at the
 * `period`-th value.
 */
export class Ema extends Indicator {
  /** @param {number} period At least 1. */
  constructor(period) {
    super();
    checkPeriod('ema', period, 1);
    /** @private */
    this.period = period;
    /** @private */
    this.alpha = 2 / (period + 1);
    /** @private */
    this.value = 0;
    /** @private */
    this.count = 0;
  }

  /**
   * @private
   * @param {number} value
   */
  next(value) {
    return this.count === 0 ? value : this.value + this.alpha * (value - this.value);
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   */
  update(value) {
    if (!(value - value === 0)) {
      return NaN;
    }
    const next = this.count === 0 ? value : this.value + this.alpha * (value - this.value);
    const ready = this.count + 1 >= this.period;
    this.value = next;
    this.count = this.count < this.period ? this.count + 1 : this.period;
    return ready ? next : NaN;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    return value - value === 0 && this.count + 1 >= this.period ? this.next(value) : NaN;
  }

  /**
   * See `Indicator.run`.
   * @internal
   * @param {ArrayLike<number>} values
   * @param {Float64Array | null} out
   * @returns {number}
   */
  run(values, out) {
    const n = this.period;
    const alpha = this.alpha;
    let value = this.value;
    let count = this.count;
    let last = NaN;
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      if (!(x - x === 0)) {
        last = NaN;
      } else {
        value = count === 0 ? x : value + alpha * (x - value);
        last = count + 1 >= n ? value : NaN;
        count = count < n ? count + 1 : n;
      }
      if (out !== null) {
        out[i] = last;
      }
    }
    this.value = value;
    this.count = count;
    return last;
  }

  /** Forgets every value taken. */
  reset() {
    this.value = 0;
    this.count = 0;
  }
}

/**
 * `Ema` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function ema(values, period) {
  const out = new Float64Array(values.length);
  new Ema(period).run(values, out);
  return out;
}
