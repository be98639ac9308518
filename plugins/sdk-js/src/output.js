// @ts-check
/** The cache entries an aggregator returns, as the Rust SDK's `output.rs` makes them. @module */

/**
 * A cache entry's value, as the contract's variant: JSON text or plain text.
 * @typedef {{ tag: 'json', val: string } | { tag: 'text', val: string }} Value
 */

/**
 * `value` as JSON as the other SDKs write it: a BigInt (the contract's 64-bit integers) as a
 * number, a number that is not finite as `null`.
 * @param {unknown} value
 */
export function toJson(value) {
  const text = JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v));
  if (text === undefined) {
    throw new TypeError(`${typeof value} has no JSON form`);
  }
  return text;
}

/**
 * Named access to one analyzer's components for one symbol, for aggregators: as the Rust SDK's
 * `ComponentsView`.
 */
export class ComponentsView {
  /**
   * @param {{ componentNames: string[], components: ArrayLike<number> }} analyses
   * @param {number} row The symbol's place in the market.
   */
  constructor(analyses, row) {
    /** @private */
    this.analyses = analyses;
    /** @private */
    this.row = row;
  }

  /**
   * `[name, value]` pairs of the defined values (NaN ones are left out).
   * @returns {[string, number][]}
   */
  entries() {
    const names = this.analyses.componentNames;
    const start = this.row * names.length;
    /** @type {[string, number][]} */
    const out = [];
    for (let j = 0; j < names.length && start + j < this.analyses.components.length; j++) {
      const v = this.analyses.components[start + j];
      if (v - v === 0) {
        out.push([names[j], v]);
      }
    }
    return out;
  }
}

/** One key to write, its value, and its TTL in seconds (undefined: the daemon's default). */
export class CacheEntry {
  /**
   * @param {string} key
   * @param {Value} value
   * @param {number} [ttlSeconds]
   */
  constructor(key, value, ttlSeconds) {
    this.key = key;
    this.value = value;
    this.ttlSeconds = ttlSeconds;
  }

  /**
   * `value` serialised as JSON under `key`.
   * @param {string} key
   * @param {unknown} value
   */
  static json(key, value) {
    return new CacheEntry(key, { tag: 'json', val: toJson(value) });
  }

  /**
   * `text` as it is under `key`.
   * @param {string} key
   * @param {string} text
   */
  static text(key, text) {
    return new CacheEntry(key, { tag: 'text', val: text });
  }

  /**
   * This entry with its own TTL.
   * @param {number} seconds
   */
  withTtl(seconds) {
    this.ttlSeconds = seconds;
    return this;
  }
}
