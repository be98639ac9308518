// @ts-nocheck
// Runs the shared indicator vectors (plugins/vectors/indicators.json) against this SDK: every
// case's expected outputs, bit for bit, from the batch functions and from the streaming classes
// (`peek` of another value, `peek` and `update` at every value, again after `reset`, and `last`
// over the whole column).
// vectors.test.js runs it in node; the `vectors-js` fixture plugin runs it inside the daemon's
// sandbox (so it uses nothing of node's), as plugins/sdk/tests/vectors/runner.rs does for Rust.
import * as ind from '../src/indicators/index.js';
import { exp, ln } from '../src/math.js';

const view = new DataView(new ArrayBuffer(8));

/** @param {string} text */
export function unhex(text) {
  view.setBigUint64(0, BigInt(`0x${text}`));
  return view.getFloat64(0);
}

/** @param {number} x */
export function hexed(x) {
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}

/** @param {number} a @param {number} b */
export function same(a, b) {
  return hexed(a) === hexed(b) || (Number.isNaN(a) && Number.isNaN(b));
}

const OUTPUTS = { macd: ['macd', 'signal', 'histogram'], bollinger: ['upper', 'middle', 'lower'] };

/** An output as a list, in the file's order. */
function outputsOf(name, value) {
  const names = OUTPUTS[name];
  return names ? names.map((n) => value[n]) : [value];
}

/** The case's streaming indicator, and its batch outputs over `columns`. */
function indicator(name, p, columns) {
  const [c] = columns;
  const batchOf = (out) => (OUTPUTS[name] ? OUTPUTS[name].map((n) => out[n]) : [out]);
  const table = {
    sma: () => [new ind.Sma(p[0]), ind.sma(c, p[0])],
    ema: () => [new ind.Ema(p[0]), ind.ema(c, p[0])],
    rsi: () => [new ind.Rsi(p[0]), ind.rsi(c, p[0])],
    true_range: () => [new ind.TrueRange(), ind.trueRange(columns[0], columns[1], columns[2])],
    atr: () => [new ind.Atr(p[0]), ind.atr(columns[0], columns[1], columns[2], p[0])],
    macd: () => [new ind.Macd(p[0], p[1], p[2]), ind.macd(c, p[0], p[1], p[2])],
    bollinger: () => [new ind.Bollinger(p[0], p[1]), ind.bollinger(c, p[0], p[1])],
    rolling_std: () => [new ind.RollingStd(p[0]), ind.rollingStd(c, p[0])],
    realised_volatility: () => [new ind.RealisedVolatility(p[0]), ind.realisedVolatility(c, p[0])],
    roc: () => [new ind.Roc(p[0]), ind.roc(c, p[0])],
    rolling_max: () => [new ind.RollingMax(p[0]), ind.rollingMax(c, p[0])],
    rolling_min: () => [new ind.RollingMin(p[0]), ind.rollingMin(c, p[0])],
  };
  const [stream, batch] = table[name]();
  return [stream, batchOf(batch)];
}

function runCase(c, series) {
  const columns = c.inputs.map((name) => series[name].map(unhex));
  if (c.function) {
    const f = { ln, exp }[c.function];
    return [columns[0].map(f)];
  }
  const [stream, batch] = indicator(c.indicator, c.params, columns);
  const at = (t) => columns.map((col) => col[t]);
  const length = columns[0].length;
  for (let t = 0; t < length; t++) {
    stream.peek(...at(t).map((x) => x * 1.5 + 1));
    const peeked = outputsOf(c.indicator, stream.peek(...at(t)));
    const updated = outputsOf(c.indicator, stream.update(...at(t)));
    batch.forEach((out, k) => {
      if (!(same(peeked[k], out[t]) && same(updated[k], out[t]))) {
        throw new Error(`${c.name}, output ${k}, value ${t}: peek ${peeked[k]}, update ${updated[k]}, batch ${out[t]}`);
      }
    });
  }
  stream.reset();
  for (let t = 0; t < Math.min(length, 40); t++) {
    const again = outputsOf(c.indicator, stream.update(...at(t)));
    batch.forEach((out, k) => {
      if (!same(again[k], out[t])) throw new Error(`${c.name} after reset, value ${t}`);
    });
  }
  // `last` over the whole column on a fresh indicator; over the rest of it on the one the run
  // after `reset` left part way; and on a fresh one in three parts (the first 5 values, all but
  // the last 3, the last 3), so what `last` leaves is what `update` would, even mid warm-up:
  // each time the batch's output at the last value taken.
  const taken = Math.min(length, 40);
  const head = Math.min(length, 5);
  const tail = Math.max(head, length - 3);
  const [fresh] = indicator(c.indicator, c.params, columns);
  const [parted] = indicator(c.indicator, c.params, columns);
  const cut = (from, to) => columns.map((col) => col.slice(from, to));
  const runs = [
    ['fresh', fresh, columns, length],
    ['after the first values', stream, cut(taken, length), length],
    ...[[0, head], [head, tail], [tail, length]].map(([from, to]) => [
      `on values ${from} to ${to} after the first`, parted, cut(from, to), to,
    ]),
  ];
  for (const [how, ind, cols, upto] of runs) {
    // Over nothing, `last` gives no value, not the last one taken.
    if (cols[0].length === 0 && how !== 'fresh') continue;
    const lastOut = outputsOf(c.indicator, ind.last(...cols));
    batch.forEach((out, k) => {
      const expected = upto === 0 ? NaN : out[upto - 1];
      if (!same(lastOut[k], expected)) {
        throw new Error(`${c.name}, output ${k}: last (${how}) ${lastOut[k]}, batch ${expected}`);
      }
    });
  }
  return batch;
}

/**
 * Each output of case `c` that differs from its expected bits, described; and how many outputs
 * were compared.
 */
export function mismatches(c, series) {
  const got = runCase(c, series);
  const names = OUTPUTS[c.indicator] ?? ['value'];
  const found = [];
  let compared = 0;
  got.forEach((column, k) => {
    const expected = c.outputs[names[k]];
    if (expected.length !== column.length) {
      throw new Error(`${c.name} ${names[k]}: ${column.length} values, expected ${expected.length}`);
    }
    column.forEach((g, t) => {
      compared += 1;
      if (!same(g, unhex(expected[t]))) {
        found.push(`${c.name} ${names[k]}[${t}]: got ${hexed(g)} (${g}), expected ${expected[t]}`);
      }
    });
  });
  return { found, compared };
}

/** Runs every case: `{ cases, outputs }` compared, or an Error naming the first differences. */
export function check(vectors) {
  if (vectors.format !== 'pulse-indicator-vectors/1') {
    throw new Error(`the vector file's format is ${vectors.format}`);
  }
  const found = [];
  let outputs = 0;
  for (const c of vectors.cases) {
    const one = mismatches(c, vectors.series);
    found.push(...one.found);
    outputs += one.compared;
  }
  if (found.length > 0) {
    throw new Error(`${found.length} outputs differ; the first:\n${found.slice(0, 10).join('\n')}`);
  }
  return { cases: vectors.cases.length, outputs };
}
