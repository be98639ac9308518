// @ts-check
/** True range and Wilder's average true range, over candles' highs, lows and closes. @module */
import { larger } from '../math.js';
import { Indicator, checkPeriod, finite } from './window.js';

/**
 * A candle's true range: the largest of `high − low`, `|high − previous close|` and
 * `|low − previous close|`; the first candle's is `high − low`.
 */
export class TrueRange extends Indicator {
  constructor() {
    super();
    /** @private */
    this.prevClose = NaN;
  }

  /**
   * Takes the next candle and gives its true range.
   * @param {number} high
   * @param {number} low
   * @param {number} close
   */
  update(high, low, close) {
    const out = this.peek(high, low, close);
    if (!(out !== out)) {
      this.prevClose = close;
    }
    return out;
  }

  /**
   * The true range `update` would give, leaving this as it is.
   * @param {number} high
   * @param {number} low
   * @param {number} close
   */
  peek(high, low, close) {
    if (!(finite(high) && finite(low) && finite(close))) {
      return NaN;
    }
    const range = high - low;
    const prev = this.prevClose;
    if ((prev !== prev)) {
      return range;
    }
    return larger(larger(range, Math.abs(high - prev)), Math.abs(low - prev));
  }

  /** Forgets the previous close. */
  reset() {
    this.prevClose = NaN;
  }

  /** Whether a candle has been taken. */
  started() {
    return !(this.prevClose !== this.prevClose);
  }
}

/** Wilder's average true range over `period` candles. First value at the `period + 1`-th candle. */
export class Atr extends Indicator {
  /** @param {number} period At least 1. */
  constructor(period) {
    checkPeriod('atr', period, 1);
    super();
    /** @private */
    this.period = period;
    /** @private */
    this.range = new TrueRange();
    /** @private */
    this.count = 0;
    /** @private */
    this.value = 0;
    /** @private */
    this.next = 0;
  }

  /**
   * The output with the true range `tr` counted; the sum or average it would leave in `next`.
   * @private
   * @param {number} tr
   */
  step(tr) {
    const n = this.period;
    const count = this.count + 1;
    let value;
    if (count < this.period) {
      value = this.value + tr;
    } else if (count === this.period) {
      value = (this.value + tr) / n;
    } else {
      value = (this.value * (n - 1) + tr) / n;
    }
    this.next = value;
    return count < this.period ? NaN : value;
  }

  /**
   * Takes the next candle and gives the ATR.
   * @param {number} high
   * @param {number} low
   * @param {number} close
   */
  update(high, low, close) {
    const counted = this.range.started();
    const tr = this.range.update(high, low, close);
    if ((tr !== tr) || !counted) {
      return NaN;
    }
    const out = this.step(tr);
    this.count = this.count <= this.period ? this.count + 1 : this.period + 1;
    this.value = this.next;
    return out;
  }

  /**
   * The ATR `update` would give, leaving this as it is.
   * @param {number} high
   * @param {number} low
   * @param {number} close
   */
  peek(high, low, close) {
    const tr = this.range.peek(high, low, close);
    if ((tr !== tr) || !this.range.started()) {
      return NaN;
    }
    return this.step(tr);
  }

  /** Forgets every candle taken. */
  reset() {
    this.range.reset();
    this.count = 0;
    this.value = 0;
  }
}

/**
 * `TrueRange` down the columns (as long as the shortest).
 * @param {ArrayLike<number>} high
 * @param {ArrayLike<number>} low
 * @param {ArrayLike<number>} close
 */
export function trueRange(high, low, close) {
  const tr = new TrueRange();
  const out = new Float64Array(Math.min(high.length, low.length, close.length));
  for (let i = 0; i < out.length; i++) out[i] = tr.update(high[i], low[i], close[i]);
  return out;
}

/**
 * `Atr` down the columns (as long as the shortest).
 * @param {ArrayLike<number>} high
 * @param {ArrayLike<number>} low
 * @param {ArrayLike<number>} close
 * @param {number} period
 */
export function atr(high, low, close, period) {
  const a = new Atr(period);
  const out = new Float64Array(Math.min(high.length, low.length, close.length));
  for (let i = 0; i < out.length; i++) out[i] = a.update(high[i], low[i], close[i]);
  return out;
}
