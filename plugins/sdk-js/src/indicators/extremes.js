// @ts-check
/** Rolling maximum and minimum, each kept as a monotonic queue: O(1) per value, amortised. @module */
import { Indicator, checkPeriod, column, finite } from './window.js';

/** The values that can still become the window's extreme, each with its position. */
class Extreme extends Indicator {
  /**
   * @param {number} period
   * @param {boolean} largest
   */
  constructor(period, largest) {
    super();
    /** @private */
    this.period = period;
    /** @private */
    this.largest = largest;
    // A ring of at most `period` entries: positions and values, the front the extreme.
    /** @private */
    this.at = new Float64Array(period);
    /** @private */
    this.values = new Float64Array(period);
    /** @private */
    this.head = 0;
    /** @private */
    this.size = 0;
    /** @private */
    this.next = 0;
    /** @private */
    this.count = 0;
  }

  /**
   * @private
   * @param {number} a
   * @param {number} b
   */
  beats(a, b) {
    return this.largest ? a >= b : a <= b;
  }

  /**
   * @private
   * @param {number} i The i-th entry from the front.
   */
  slot(i) {
    return (this.head + i) % this.period;
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
    if (this.size > 0 && this.at[this.head] + this.period <= this.next) {
      this.head = (this.head + 1) % this.period;
      this.size -= 1;
    }
    while (this.size > 0 && this.beats(value, this.values[this.slot(this.size - 1)])) {
      this.size -= 1;
    }
    const end = this.slot(this.size);
    this.at[end] = this.next;
    this.values[end] = value;
    this.size += 1;
    this.next += 1;
    this.count = this.count < this.period ? this.count + 1 : this.period;
    return out;
  }

  /**
   * The output `update(value)` would give, leaving the indicator as it is.
   * @param {number} value
   */
  peek(value) {
    if (!finite(value) || this.count + 1 < this.period) {
      return NaN;
    }
    for (let i = 0; i < this.size; i++) {
      const s = this.slot(i);
      if (this.at[s] + this.period > this.next) {
        return this.beats(value, this.values[s]) ? value : this.values[s];
      }
    }
    return value;
  }

  /** Forgets every value taken. */
  reset() {
    this.head = 0;
    this.size = 0;
    this.count = 0;
  }
}

/** The largest of the last `period` values (of equal ones, the latest). */
export class RollingMax extends Extreme {
  /** @param {number} period At least 1. */
  constructor(period) {
    checkPeriod('rolling_max', period, 1);
    super(period, true);
  }
}

/** The smallest of the last `period` values (of equal ones, the latest). */
export class RollingMin extends Extreme {
  /** @param {number} period At least 1. */
  constructor(period) {
    checkPeriod('rolling_min', period, 1);
    super(period, false);
  }
}

/**
 * `RollingMax` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function rollingMax(values, period) {
  const m = new RollingMax(period);
  return column((v) => m.update(v), values);
}

/**
 * `RollingMin` down a column.
 * @param {ArrayLike<number>} values
 * @param {number} period
 */
export function rollingMin(values, period) {
  const m = new RollingMin(period);
  return column((v) => m.update(v), values);
}
