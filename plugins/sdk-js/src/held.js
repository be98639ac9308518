// @ts-check
/**
 * State kept between calls: each symbol's signal as last given, held until its score is a
 * margin past the next threshold (hysteresis), as the Rust SDK's `held.rs` keeps it, by the
 * same names (`{"BTCUSDT": "BUY"}`), so a port keeps the same state format.
 * @module
 */
import { SIGNALS, verdict } from './analyses.js';
import { toJson } from './output.js';

/** @typedef {import('./analyses.js').Signal} Signal */
/** @typedef {import('./analyses.js').Verdict} Verdict */

/**
 * The state the last call returned, decoded from JSON; `empty` when there is none (the first
 * call, or a version starting afresh).
 * @template T
 * @param {Uint8Array} bytes
 * @param {T} empty
 * @returns {T}
 */
export function decodeState(bytes, empty) {
  if (bytes.length === 0) {
    return empty;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(
      `cannot read the state handed over (${bytes.length} bytes): ${error}; a version that cannot read an older one's state must name another state-format`,
    );
  }
}

/**
 * The bytes the host keeps for the next call: `state` as JSON.
 * @param {unknown} state
 */
export function encodeState(state) {
  return new TextEncoder().encode(toJson(state));
}

/**
 * `verdict(score)` with hysteresis: keeps `held` while the score is within `margin` points of
 * the thresholds around it; otherwise the plain verdict.
 * @param {number} score
 * @param {Signal | undefined} held
 * @param {number} margin
 * @returns {Verdict}
 */
export function heldVerdict(score, held, margin) {
  const plain = verdict(score);
  if (held === undefined) {
    return plain;
  }
  const low = rank(verdict(score - margin).signal);
  const high = rank(verdict(score + margin).signal);
  const r = rank(held);
  return r >= low && r <= high ? { score: plain.score, signal: held } : plain;
}

/** Each symbol's signal as last given, by its name in cache values. */
export class HeldSignals {
  /** @param {Record<string, string>} [names] `{"BTCUSDT": "BUY"}`, as encoded. */
  constructor(names = {}) {
    /** @private A copy: the caller's object stays theirs. */
    this.names = { ...names };
  }

  /**
   * The held signals in `bytes` (empty: none).
   * @param {Uint8Array} bytes
   */
  static decode(bytes) {
    return new HeldSignals(decodeState(bytes, {}));
  }

  /** The bytes to keep. */
  encode() {
    return encodeState(this.names);
  }

  /**
   * `symbol`'s verdict for `score`, its signal held as last given; records it in `next`.
   * @param {string} symbol
   * @param {number} score
   * @param {number} margin
   * @param {HeldSignals} next
   */
  verdict(symbol, score, margin, next) {
    const given = heldVerdict(score, this.get(symbol), margin);
    next.names[symbol] = nameOf(given.signal);
    return given;
  }

  /**
   * `symbol`'s signal as last given.
   * @param {string} symbol
   * @returns {Signal | undefined}
   */
  get(symbol) {
    const name = Object.hasOwn(this.names, symbol) ? this.names[symbol] : undefined;
    return name === undefined || !Object.hasOwn(BY_NAME, name) ? undefined : BY_NAME[name];
  }

  /** How many symbols are held. */
  get size() {
    return Object.keys(this.names).length;
  }
}

/**
 * Each signal's rank (0 strong sell to 4 strong buy) and name in cache values, and each name's
 * signal: lookups by property, which componentize-js's interpreter does far faster than a search
 * with a callback.
 * @type {Record<string, number>}
 */
const RANK = {};
/** @type {Record<string, string>} */
const NAME = {};
/** @type {Record<string, Signal>} */
const BY_NAME = {};
SIGNALS.forEach(([signal, name], i) => {
  RANK[signal] = i;
  NAME[signal] = name;
  BY_NAME[name] = signal;
});

/** @param {Signal} signal */
function rank(signal) {
  return RANK[signal];
}

/** @param {Signal} signal */
function nameOf(signal) {
  return NAME[signal];
}
