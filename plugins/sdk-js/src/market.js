// @ts-check
/**
 * Typed views of the contract's column-wise market, as the Rust SDK's `market.rs` gives them:
 * per symbol, its name, its history and its candles of each time frame asked for.
 * @module
 */

/**
 * A time frame, as the contract names it.
 * @typedef {'m1' | 'm5' | 'm15' | 'h1' | 'h4' | 'd1'} Timeframe
 */

/**
 * The market as componentize-js hands it over (`wit/pulse.wit`'s `market`): lists of numbers
 * as typed arrays (or plain arrays in a native test), 64-bit integers as BigInt. Only the
 * fields the SDK reads are required here.
 * @typedef {object} Market
 * @property {bigint} [cycle]
 * @property {{ text: string, ends: ArrayLike<number> }} symbols
 * @property {ArrayLike<number>} price
 * @property {ArrayLike<number>} [change24h]
 * @property {ArrayLike<number>} [volume24h]
 * @property {ArrayLike<number>} [turnover24h]
 * @property {ArrayLike<number>} [high24h]
 * @property {ArrayLike<number>} [low24h]
 * @property {ArrayLike<bigint | number>} [dataAgeMs]
 * @property {HistoryColumns} [history]
 * @property {CandleColumns[]} [candles]
 */

/**
 * @typedef {object} HistoryColumns
 * @property {ArrayLike<number>} lengths
 * @property {ArrayLike<number>} price
 * @property {ArrayLike<number>} volume24h
 * @property {ArrayLike<bigint | number>} timestampMs
 */

/**
 * One time frame's candles for every symbol, column-wise: symbol i has `lengths[i]` candles,
 * after those of the symbols before it; its last one is still forming if `forming[i]`.
 * @typedef {object} CandleColumns
 * @property {Timeframe} timeframe
 * @property {ArrayLike<number>} lengths
 * @property {ArrayLike<boolean>} forming
 * @property {ArrayLike<bigint | number>} [startMs]
 * @property {ArrayLike<number>} [open]
 * @property {ArrayLike<number>} [high]
 * @property {ArrayLike<number>} [low]
 * @property {ArrayLike<number>} [close]
 * @property {ArrayLike<number>} [volume]
 * @property {ArrayLike<number>} [turnover]
 */

/**
 * One symbol's rolling history, oldest sample first.
 * @typedef {{ price: ArrayLike<number>, volume24h: ArrayLike<number>, timestampMs: ArrayLike<bigint | number> }} Series
 */

const EMPTY = new Float64Array(0);

/**
 * `column[start..end]` without a copy for typed arrays; empty when the column was not asked for.
 * @template {ArrayLike<any>} T
 * @param {T | undefined} column
 * @param {number} start
 * @param {number} end
 * @returns {T}
 */
function part(column, start, end) {
  if (column === undefined || column.length === 0) {
    return /** @type {T} */ (/** @type {unknown} */ (EMPTY));
  }
  const c = /** @type {any} */ (column);
  return typeof c.subarray === 'function' ? c.subarray(start, end) : c.slice(start, end);
}

/**
 * How many of `column`'s rows fall in `start..end`, or `n` if more.
 * @param {ArrayLike<unknown> | undefined} column
 * @param {number} start
 * @param {number} end
 * @param {number} n
 */
function rows(column, start, end, n) {
  if (column === undefined || column.length === 0) {
    return n;
  }
  const to = end < column.length ? end : column.length;
  const count = to > start ? to - start : 0;
  return count > n ? count : n;
}

/**
 * One symbol's candles of one time frame, oldest first. Every column the plugin asked for has
 * the same length; the others are empty. A column is cut from the market's when it is read
 * (without a copy for typed arrays): componentize-js interprets JavaScript, where cutting the
 * seven columns of every symbol up front costs more than most analyses.
 */
export class CandleSeries {
  /**
   * @param {CandleColumns | undefined} columns
   * @param {number} start
   * @param {number} end
   * @param {boolean} forming
   */
  constructor(columns, start, end, forming) {
    /** Whether the last candle is still forming. */
    this.forming = forming;
    /** @private */
    this.columns = columns;
    /** @private */
    this.start = start;
    /** @private */
    this.end = end;
  }

  /** Candle open times, milliseconds since the Unix epoch. */
  get startMs() {
    return part(this.columns?.startMs, this.start, this.end);
  }

  /** Opening prices. */
  get open() {
    return part(this.columns?.open, this.start, this.end);
  }

  /** Highest prices. */
  get high() {
    return part(this.columns?.high, this.start, this.end);
  }

  /** Lowest prices. */
  get low() {
    return part(this.columns?.low, this.start, this.end);
  }

  /** Closing prices (the last price, for a forming candle). */
  get close() {
    return part(this.columns?.close, this.start, this.end);
  }

  /** Base-asset volumes. */
  get volume() {
    return part(this.columns?.volume, this.start, this.end);
  }

  /** Quote-asset turnovers. */
  get turnover() {
    return part(this.columns?.turnover, this.start, this.end);
  }

  /**
   * Number of candles, the forming one included, as the columns asked for hold them (0 when the
   * request named no column), as the Rust SDK counts them.
   */
  get length() {
    const c = this.columns;
    if (c === undefined || c === null) {
      return 0;
    }
    const start = this.start;
    const end = this.end;
    let n = rows(c.startMs, start, end, 0);
    n = rows(c.open, start, end, n);
    n = rows(c.high, start, end, n);
    n = rows(c.low, start, end, n);
    n = rows(c.close, start, end, n);
    n = rows(c.volume, start, end, n);
    return rows(c.turnover, start, end, n);
  }

  /** The closed candles only: without the forming last candle, if there is one. */
  closed() {
    if (!this.forming) {
      return this;
    }
    const n = this.length;
    return new CandleSeries(this.columns, this.start, this.start + (n > 0 ? n - 1 : 0), false);
  }
}

/** The cycle's market with per-symbol access to the flattened history and candles. */
export class MarketView {
  /** @param {Market} market */
  constructor(market) {
    /** The market as handed over: its columns (`market.price[i]`, `market.change24h[i]`, …). */
    this.market = market;
    /** @private @type {string[]} */
    this.names = [];
    let start = 0;
    for (let i = 0; i < market.symbols.ends.length; i++) {
      const end = market.symbols.ends[i];
      this.names.push(market.symbols.text.slice(start, end));
      start = end;
    }
    /** @private */
    this.historyOffsets = offsets(market.history?.lengths);
    /** @private */
    this.candleOffsets = (market.candles ?? []).map((c) => offsets(c.lengths));
    /** @private @type {Record<string, number>} Each time frame's place in `market.candles`. */
    this.timeframes = {};
    (market.candles ?? []).forEach((c, k) => {
      this.timeframes[c.timeframe] = k;
    });
  }

  /** Number of symbols. */
  get length() {
    return this.names.length;
  }

  /**
   * Symbol i's name. The host hands the names over as one string and where each ends (they
   * count bytes; Pulse's symbol names are ASCII, so they count characters too).
   * @param {number} i
   */
  symbol(i) {
    return this.names[i] ?? '';
  }

  /** Every symbol's name, in the market's order. */
  symbols() {
    return this.names.slice();
  }

  /**
   * Symbol i's samples of the 24 h tickers, one per cycle, oldest first.
   * @param {number} i
   * @returns {Series}
   */
  history(i) {
    const h = this.market.history;
    const start = this.historyOffsets[i] ?? 0;
    const end = this.historyOffsets[i + 1] ?? 0;
    return {
      price: part(h?.price, start, end),
      volume24h: part(h?.volume24h, start, end),
      timestampMs: part(h?.timestampMs, start, end),
    };
  }

  /**
   * Symbol i's candles of `timeframe` (empty when `describe` did not ask for it).
   * @param {Timeframe} timeframe
   * @param {number} i
   */
  candles(timeframe, i) {
    const k = this.timeframes[timeframe];
    if (k === undefined || !(i >= 0 && i < this.names.length)) {
      return new CandleSeries(undefined, 0, 0, false);
    }
    const columns = /** @type {CandleColumns[]} */ (this.market.candles)[k];
    const at = this.candleOffsets[k];
    return new CandleSeries(columns, at[i], at[i + 1], Boolean(columns.forming[i]));
  }
}

/**
 * Where each symbol's rows start, and the end: `lengths` summed.
 * @param {ArrayLike<number> | undefined} lengths
 */
function offsets(lengths) {
  const out = [0];
  for (let i = 0; i < (lengths?.length ?? 0); i++) {
    out.push(out[i] + /** @type {ArrayLike<number>} */ (lengths)[i]);
  }
  return out;
}
