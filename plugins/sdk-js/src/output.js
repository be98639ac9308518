// @ts-check
/** The cache entries an aggregator returns, as the Rust SDK's `output.rs` makes them. @module */

/**
 * A cache entry's value, as the contract's variant: JSON text or plain text.
 * @typedef {{ tag: 'json', val: string } | { tag: 'text', val: string }} Value
 */

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
    return new CacheEntry(key, { tag: 'json', val: JSON.stringify(value) });
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
