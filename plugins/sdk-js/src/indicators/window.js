// @ts-check
/**
 * The last `n` values an indicator has seen since its last gap, with the running sum and
 * spread the window indicators share. `window.rs` in the Rust SDK says why each step is as it
 * is; this is the same, operation for operation.
 * @module
 */

/** Welford's running mean and sum of squared deviations from it. */
export class Spread {
  /**
   * @param {number} [count]
   * @param {number} [mean]
   * @param {number} [m2]
   */
  constructor(count = 0, mean = 0, m2 = 0) {
    /** Values counted (before the window is full). */
    this.count = count;
    /** Their mean. */
    this.mean = mean;
    /** The sum of their squared deviations from the mean. */
    this.m2 = m2;
  }

  /**
   * With `x` counted too.
   * @param {number} x
   */
  add(x) {
    const count = this.count + 1;
    const d = x - this.mean;
    const mean = this.mean + d / count;
    return new Spread(count, mean, this.m2 + d * (x - mean));
  }

  /**
   * With `old` replaced by `x` in a full window of `n` values.
   * @param {number} old
   * @param {number} x
   * @param {number} n
   */
  replace(old, x, n) {
    const d = x - old;
    const mean = this.mean + d / n;
    return new Spread(this.count, mean, this.m2 + d * ((x - mean) + (old - this.mean)));
  }

  /** The sum of squared deviations: never below 0, and NaN, not 0, once it has overflowed to −∞. */
  squares() {
    if (this.m2 === -Infinity) {
      return NaN;
    }
    return this.m2 < 0 ? 0 : this.m2;
  }
}

/** A ring of the last `n` values since the last gap. */
export class Window {
  /** @param {number} n */
  constructor(n) {
    /** The values, written round from slot 0 after each gap. */
    this.ring = new Float64Array(n);
    /** The slot the next value goes in: the oldest value's, once the window is full. */
    this.pos = 0;
    /** Values since the last gap, up to `n`. */
    this.count = 0;
  }

  /** How many values the window holds when full. */
  get length() {
    return this.ring.length;
  }

  /** Whether the window is full once one more value is added. */
  fullWith() {
    return this.count + 1 >= this.ring.length;
  }

  /** The value the next one pushes out, when the window is full. */
  oldest() {
    return this.count === this.ring.length ? this.ring[this.pos] : undefined;
  }

  /** @param {number} x Adds `x`, pushing out the oldest value when full. */
  push(x) {
    this.ring[this.pos] = x;
    this.pos = (this.pos + 1) % this.ring.length;
    this.count = this.count + 1 < this.ring.length ? this.count + 1 : this.ring.length;
  }

  /** Forgets every value. */
  clear() {
    this.pos = 0;
    this.count = 0;
  }

  /**
   * The window's sum with `x` added, given its sum now.
   * @param {number} sum
   * @param {number} x
   */
  sumWith(sum, x) {
    // Field reads rather than calls to wraps() and oldest(): componentize-js interprets
    // JavaScript, where a call costs far more than the arithmetic.
    const ring = this.ring;
    const n = ring.length;
    if (this.pos + 1 === n) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        total = total + (i === this.pos ? x : ring[i]);
      }
      return total;
    }
    return this.count === n ? (sum - ring[this.pos]) + x : sum + x;
  }

  /**
   * The window's spread with `x` added, given its spread now.
   * @param {Spread} spread
   * @param {number} x
   */
  spreadWith(spread, x) {
    const ring = this.ring;
    const n = ring.length;
    if (this.pos + 1 === n) {
      let out = new Spread();
      for (let i = 0; i < n; i++) {
        out = out.add(i === this.pos ? x : ring[i]);
      }
      return out;
    }
    return this.count === n ? spread.replace(ring[this.pos], x, n) : spread.add(x);
  }
}

/**
 * Throws a RangeError unless `period` is a whole number of at least `least`.
 * @param {string} indicator
 * @param {number} period
 * @param {number} least
 */
export function checkPeriod(indicator, period, least) {
  if (!Number.isInteger(period) || period < least) {
    throw new RangeError(`${indicator}: the period must be a whole number of at least ${least}, not ${period}`);
  }
}

/**
 * `update` run down `values`.
 * @param {(value: number) => number} update
 * @param {ArrayLike<number>} values
 */
export function column(update, values) {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = update(values[i]);
  }
  return out;
}

/**
 * What every streaming indicator shares: `last`. Each subclass has `update(...)`, `peek(...)`
 * and `reset()`; `peek` of a gap (NaN) is its output where there is none.
 */
export class Indicator {
  /**
   * Takes the next value (ATR and true range: a candle's high, low and close) and gives its
   * output.
   * @param {...number} _values
   * @returns {unknown}
   */
  update(..._values) {
    throw new Error('an indicator defines update');
  }

  /**
   * The output `update` would give, leaving the indicator as it is.
   * @param {...number} _values
   * @returns {unknown}
   */
  peek(..._values) {
    throw new Error('an indicator defines peek');
  }

  /**
   * `update` down `values`, its outputs into `out` when given; returns the last output (NaN for
   * no values), or `undefined` for an indicator without this loop (`last` then calls `update`
   * per value). `Sma`, `Ema` and `Rsi` have it: the same operations as `update`, with the state
   * in local variables, because componentize-js interprets JavaScript, where each field read or
   * call costs many times the arithmetic. The shared vectors check it (the batch form) and
   * `update` apart.
   * @internal
   * @param {ArrayLike<number>} _values
   * @param {Float64Array | null} _out
   * @returns {number | undefined}
   */
  run(_values, _out) {
    return undefined;
  }

  /**
   * Takes every value in turn and gives the last one's output (NaN, or NaN in every field,
   * for none). ATR and true range take three columns: high, low and close (as long as the
   * shortest).
   * @param {...ArrayLike<number>} columns
   * @returns {ReturnType<this['update']>}
   */
  last(...columns) {
    if (columns.length === 1) {
      const fast = this.run(columns[0], null);
      if (fast !== undefined) {
        return /** @type {ReturnType<this['update']>} */ (fast);
      }
    }
    let out = this.peek(NaN, NaN, NaN);
    const a = columns[0];
    const b = columns[1];
    const c = columns[2];
    if (columns.length === 1) {
      for (let i = 0; i < a.length; i++) out = this.update(a[i]);
    } else if (columns.length === 3) {
      const n = Math.min(a.length, b.length, c.length);
      for (let i = 0; i < n; i++) out = this.update(a[i], b[i], c[i]);
    } else if (columns.length !== 0) {
      throw new RangeError(`last takes one column, or three (high, low, close), not ${columns.length}`);
    }
    return /** @type {ReturnType<this['update']>} */ (out);
  }
}

/**
 * Whether `x` is neither NaN nor ±∞: `Number.isFinite` as an operator, which costs less in
 * componentize-js's interpreter than a call.
 * @param {number} x
 */
export function finite(x) {
  return x - x === 0;
}
