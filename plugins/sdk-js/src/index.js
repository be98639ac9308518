// @ts-check
/**
 * The Pulse plugin SDK for JavaScript: indicators that give the same bits as the Rust and
 * Python SDKs' (`indicators`), the functions they rest on (`math`), and the host's interface as
 * a plugin sees it (the market, verdicts, analyses, cache entries, the log, held signals).
 * @module
 */
export * from './indicators/index.js';
export { exp, larger, ln, smaller } from './math.js';
export { AnalysesBuilder, SIGNALS, isBuy, isSell, signalName, verdict } from './analyses.js';
export { HeldSignals, decodeState, encodeState, heldVerdict } from './held.js';
export { CacheEntry, ComponentsView, toJson } from './output.js';
export * as log from './log.js';
export { connectLog } from './log.js';
export { CandleSeries, MarketView } from './market.js';

/** @typedef {import('./market.js').Market} Market */
/** @typedef {import('./market.js').Timeframe} Timeframe */
/** @typedef {import('./analyses.js').Verdict} Verdict */
/** @typedef {import('./analyses.js').Signal} Signal */
/** @typedef {import('./analyses.js').Analyses} Analyses */
