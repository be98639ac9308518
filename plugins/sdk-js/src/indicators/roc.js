// @ts-check
/** Rate of change. @module */
import { Indicator, Window, checkPeriod, column, finite } from './window.js';

/**
 * The change over `period` values, in percent: `(x[t] − x[t−n]) / x[t−n] · 100`. First value
 * at the `period + 1`-th value.
 */
export class Roc extends Indicator {
  /** @param {number} period At least 1. */
  constructor(period) {
    super();
    checkPeriod('roc', period, 1);
    /** @private */
    this.window = new Window(period);
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   */
  update(value) {
    if (!finite(value)) {
      this.reset();
      return NaN;
    }
    const out = this.peek(value);
    this.window.push(value);
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    const old = this.window.oldest();
    if (old === undefined || !finite(value)) {
      return NaN;
    }
    return (value - old) / old * 100;
  }

  /** Forgets every value taken. */
  reset() {
    this.window.clear();
  }
}

/**
 * `Roc` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function roc(values, period) {
  const r = new Roc(period);
  return column((v) => r.update(v), values);
}
