// @ts-check
/** Wilder's relative strength index. @module */
import { Indicator, checkPeriod } from './window.js';

/** Wilder's RSI over `period` changes, 0 to 100. First value at the `period + 1`-th value. */
export class Rsi extends Indicator {
  /** @param {number} period At least 1. */
  constructor(period) {
    super();
    checkPeriod('rsi', period, 1);
    /** @private */
    this.period = period;
    /** @private */
    this.prev = NaN;
    /** @private */
    this.count = 0;
    /** @private */
    this.gain = 0;
    /** @private */
    this.loss = 0;
    /** @private */
    this.nextGain = 0;
    /** @private */
    this.nextLoss = 0;
  }

  /**
   * The output with `value` taken; the gains and losses it would leave in `nextGain` and
   * `nextLoss`.
   * @private
   * @param {number} value
   */
  step(value) {
    const n = this.period;
    const d = value - this.prev;
    const count = this.count + 1;
    let gain;
    let loss;
    if (count <= this.period) {
      if (d > 0) {
        gain = this.gain + d;
        loss = this.loss;
      } else {
        gain = this.gain;
        loss = this.loss - d;
      }
      if (count === this.period) {
        gain = gain / n;
        loss = loss / n;
      }
    } else {
      // `larger(d, 0)` and `larger(-d, 0)` written out (as the other SDKs' `larger`): no calls.
      gain = (this.gain * (n - 1) + (d >= 0 ? d : 0)) / n;
      loss = (this.loss * (n - 1) + (-d >= 0 ? -d : 0)) / n;
    }
    let out;
    if (count < this.period) {
      out = NaN;
    } else if (loss === 0) {
      out = gain === 0 ? 50 : 100;
    } else {
      out = 100 - 100 / (1 + gain / loss);
    }
    this.nextGain = gain;
    this.nextLoss = loss;
    return out;
  }

  /**
   * Takes the next value and gives its output.
   * @param {number} value
   */
  update(value) {
    if (!(value - value === 0)) {
      return NaN;
    }
    if (this.prev !== this.prev) {
      this.prev = value;
      return NaN;
    }
    const out = this.step(value);
    this.prev = value;
    this.count = this.count <= this.period ? this.count + 1 : this.period + 1;
    this.gain = this.nextGain;
    this.loss = this.nextLoss;
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    if (!(value - value === 0) || this.prev !== this.prev) {
      return NaN;
    }
    return this.step(value);
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
    let prev = this.prev;
    let count = this.count;
    let gain = this.gain;
    let loss = this.loss;
    let last = NaN;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (!(value - value === 0)) {
        last = NaN;
      } else if (prev !== prev) {
        prev = value;
        last = NaN;
      } else {
        // Rsi.step, written out.
        const d = value - prev;
        const next = count + 1;
        if (next <= n) {
          if (d > 0) {
            gain = gain + d;
          } else {
            loss = loss - d;
          }
          if (next === n) {
            gain = gain / n;
            loss = loss / n;
          }
        } else {
          gain = (gain * (n - 1) + (d >= 0 ? d : 0)) / n;
          loss = (loss * (n - 1) + (-d >= 0 ? -d : 0)) / n;
        }
        if (next < n) {
          last = NaN;
        } else if (loss === 0) {
          last = gain === 0 ? 50 : 100;
        } else {
          last = 100 - 100 / (1 + gain / loss);
        }
        prev = value;
        count = count <= n ? count + 1 : n + 1;
      }
      if (out !== null) {
        out[i] = last;
      }
    }
    this.prev = prev;
    this.count = count;
    this.gain = gain;
    this.loss = loss;
    return last;
  }

  /** Forgets every value taken. */
  reset() {
    this.prev = NaN;
    this.count = 0;
    this.gain = 0;
    this.loss = 0;
  }
}

/**
 * `Rsi` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function rsi(values, period) {
  const out = new Float64Array(values.length);
  new Rsi(period).run(values, out);
  return out;
}
