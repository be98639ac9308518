// @ts-check
/**
 * Verdicts and the analyses an analyzer returns, as the Rust SDK's `analyses.rs` builds them.
 * @module
 */

/**
 * A signal, as the contract names it.
 * @typedef {'strong-buy' | 'buy' | 'neutral' | 'sell' | 'strong-sell'} Signal
 */

/**
 * A score from 0 to 100 and its signal.
 * @typedef {{ score: number, signal: Signal }} Verdict
 */

/**
 * What an analyzer returns for the market: a verdict per symbol (undefined to abstain), the
 * names of the figures reported beside them, and those figures, row-major.
 * @typedef {{ verdicts: (Verdict | undefined)[], componentNames: string[], components: Float64Array }} Analyses
 */

/**
 * The signals from strong sell to strong buy, with their names in cache values (`BUY`).
 * @type {ReadonlyArray<readonly [Signal, string]>}
 */
export const SIGNALS = Object.freeze([
  /** @type {const} */ (['strong-sell', 'STRONG_SELL']),
  /** @type {const} */ (['sell', 'SELL']),
  /** @type {const} */ (['neutral', 'NEUTRAL']),
  /** @type {const} */ (['buy', 'BUY']),
  /** @type {const} */ (['strong-buy', 'STRONG_BUY']),
]);

/**
 * A score clamped to 0..100 (NaN stays NaN) and its signal: strong buy from 80, buy from 60,
 * strong sell to 20, sell to 40, neutral between.
 * @param {number} score
 * @returns {Verdict}
 */
export function verdict(score) {
  const clamped = score < 0 ? 0 : score > 100 ? 100 : score;
  /** @type {Signal} */
  let signal = 'neutral';
  if (clamped >= 80) signal = 'strong-buy';
  else if (clamped >= 60) signal = 'buy';
  else if (clamped <= 20) signal = 'strong-sell';
  else if (clamped <= 40) signal = 'sell';
  return { score: clamped, signal };
}

/**
 * The signal's name in cache values (`STRONG_BUY`), as the Rust SDK's `Signal::as_str`.
 * @param {Signal} signal
 */
export function signalName(signal) {
  const found = SIGNALS.find(([s]) => s === signal);
  if (found === undefined) {
    throw new RangeError(`not a signal of the contract: ${String(signal)}`);
  }
  return found[1];
}

/**
 * True for buy and strong buy.
 * @param {Signal} signal
 */
export function isBuy(signal) {
  return signal === 'buy' || signal === 'strong-buy';
}

/**
 * True for sell and strong sell.
 * @param {Signal} signal
 */
export function isSell(signal) {
  return signal === 'sell' || signal === 'strong-sell';
}

/** Builds an analyzer's output one symbol at a time, in the market's order. */
export class AnalysesBuilder {
  /**
   * @param {string[]} componentNames The figures reported beside each verdict, in order.
   * @param {number} symbols How many symbols the market has.
   */
  constructor(componentNames, symbols) {
    /** @private */
    this.names = componentNames;
    /** @private @type {(Verdict | undefined)[]} */
    this.verdicts = [];
    /** @private */
    this.components = new Float64Array(symbols * componentNames.length);
  }

  /**
   * The next symbol's verdict and figures (missing figures are NaN).
   * @param {Verdict} given
   * @param {ArrayLike<number>} components
   */
  push(given, components) {
    this.row(given, components);
  }

  /**
   * The next symbol gets no verdict (too little data), with what figures there are.
   * @param {ArrayLike<number>} [components]
   */
  abstain(components = []) {
    this.row(undefined, components);
  }

  /**
   * @private
   * @param {Verdict | undefined} given
   * @param {ArrayLike<number>} components
   */
  row(given, components) {
    const k = this.names.length;
    const at = this.verdicts.length * k;
    if (at + k > this.components.length) {
      const grown = new Float64Array((at + k) * 2);
      grown.set(this.components);
      this.components = grown;
    }
    for (let j = 0; j < k; j++) {
      this.components[at + j] = j < components.length ? components[j] : NaN;
    }
    this.verdicts.push(given);
  }

  /** @returns {Analyses} */
  finish() {
    const k = this.names.length;
    return {
      verdicts: this.verdicts,
      componentNames: this.names,
      components: this.components.slice(0, this.verdicts.length * k),
    };
  }
}
