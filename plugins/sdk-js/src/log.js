// @ts-check
/**
 * The daemon's log, tagged with the plugin's name. In the component the entry connects the
 * host's `log` import (`connectLog(log)`, as the templates' `src/plugin.js` does); natively,
 * lines go to the console.
 * @module
 */

/** @typedef {'debug' | 'info' | 'warn' | 'error'} Level */

/** @type {(level: Level, message: string) => void} */
let sink = (level, message) => console.error(`[${level}] ${message}`);

/**
 * Sends every line to `hostLog`: the `log` the entry imports from `pulse:plugin/host`.
 * @param {(level: Level, message: string) => void} hostLog
 */
export function connectLog(hostLog) {
  sink = hostLog;
}

/** @param {string} message */
export function debug(message) {
  sink('debug', message);
}

/** @param {string} message */
export function info(message) {
  sink('info', message);
}

/** @param {string} message */
export function warn(message) {
  sink('warn', message);
}

/** @param {string} message */
export function error(message) {
  sink('error', message);
}
