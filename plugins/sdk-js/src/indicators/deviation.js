// @ts-check
/** Rolling standard deviation, and realised volatility (the deviation of log returns). @module */
import { ln } from '../math.js';
import { Indicator, Spread, Window, checkPeriod, column, finite } from './window.js';

/** The population standard deviation of the last `period` values. First value at the `period`-th value. */
export class RollingStd extends Indicator {
  /** @param {number} period At least 1. */
  constructor(period) {
    super();
    checkPeriod('rolling_std', period, 1);
    /** @private */
    this.window = new Window(period);
    /** @private */
    this.spread = new Spread();
    /** @private */
    this.nextSpread = this.spread;
  }

  /**
   * The output with `value` taken; the spread it would leave in `nextSpread`.
   * @private
   * @param {number} value
   */
  step(value) {
    const spread = this.window.spreadWith(this.spread, value);
    this.nextSpread = spread;
    return this.window.fullWith() ? Math.sqrt(spread.squares() / this.window.length) : NaN;
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
    const out = this.step(value);
    this.window.push(value);
    this.spread = this.nextSpread;
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    return finite(value) ? this.step(value) : NaN;
  }

  /** Forgets every value taken. */
  reset() {
    this.window.clear();
    this.spread = new Spread();
  }
}

/**
 * The sample standard deviation of the last `period` log returns, in percent. First value at
 * the `period + 1`-th price.
 */
export class RealisedVolatility extends Indicator {
  /** @param {number} period At least 2. */
  constructor(period) {
    super();
    checkPeriod('realised_volatility', period, 2);
    /** @private */
    this.prev = NaN;
    /** @private */
    this.window = new Window(period);
    /** @private */
    this.spread = new Spread();
    /** @private */
    this.nextSpread = this.spread;
  }

  /**
   * @private
   * @param {number} price
   */
  logReturn(price) {
    const r = ln(price / this.prev);
    return finite(price) && price > 0 && finite(r) ? r : undefined;
  }

  /**
   * The output with the return `r` taken; the spread it would leave in `nextSpread`.
   * @private
   * @param {number} r
   */
  step(r) {
    const spread = this.window.spreadWith(this.spread, r);
    this.nextSpread = spread;
    return this.window.fullWith() ? Math.sqrt(spread.squares() / (this.window.length - 1)) * 100 : NaN;
  }

  /**
   * Takes the next price and gives its output.
   * @param {number} price
   */
  update(price) {
    if (!(finite(price) && price > 0)) {
      this.reset();
      return NaN;
    }
    const r = this.logReturn(price);
    if (r === undefined) {
      this.reset();
      this.prev = price;
      return NaN;
    }
    const out = this.step(r);
    this.window.push(r);
    this.spread = this.nextSpread;
    this.prev = price;
    return out;
  }

  /**
   * The output `update(price)` would give, leaving the indicator as it is.
   * @param {number} price
   */
  peek(price) {
    const r = this.logReturn(price);
    return r === undefined ? NaN : this.step(r);
  }

  /** Forgets every price taken. */
  reset() {
    this.prev = NaN;
    this.window.clear();
    this.spread = new Spread();
  }
}

/**
 * `RollingStd` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function rollingStd(values, period) {
  const s = new RollingStd(period);
  return column((v) => s.update(v), values);
}

/**
 * `RealisedVolatility` down a column of prices.
 * @param {ArrayLike<number>} prices
 * @param {number} period
 */
export function realisedVolatility(prices, period) {
  const v = new RealisedVolatility(period);
  return column((p) => v.update(p), prices);
}
