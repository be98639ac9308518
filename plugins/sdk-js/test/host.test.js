// The host's interface as the JavaScript SDK gives it: the market view over column-wise data,
// verdicts and analyses, held signals and their state, cache entries. The Python SDK's
// tests/test_host.py checks the same behaviour under the same names.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  AnalysesBuilder,
  CacheEntry,
  ComponentsView,
  HeldSignals,
  MarketView,
  isBuy,
  isSell,
  signalName,
  verdict,
} from '../src/index.js';

const MARKET = {
  symbols: { text: 'BTCUSDTETHUSDT', ends: new Uint32Array([7, 14]) },
  price: new Float64Array([100, 10]),
  history: { lengths: [2, 1], price: [99, 100, 10], volume24h: [1, 2, 3], timestampMs: [1n, 2n, 2n] },
  candles: [{ timeframe: 'm1', lengths: [3, 2], forming: [true, false], close: new Float64Array([1, 2, 3, 4, 5]), high: new Float64Array() }],
};

test('the market view splits the columns per symbol', () => {
  const view = new MarketView(MARKET);
  assert.equal(view.length, 2);
  assert.equal(view.symbol(1), 'ETHUSDT');
  assert.deepEqual(view.symbols(), ['BTCUSDT', 'ETHUSDT']);
  const btc = view.candles('m1', 0);
  assert.deepEqual([...btc.close], [1, 2, 3]);
  assert.ok(btc.forming && btc.length === 3);
  assert.equal(btc.closed().length, 2);
  assert.deepEqual([...btc.closed().close], [1, 2]);
  assert.equal(btc.closed().forming, false);
  assert.equal(btc.high.length, 0, 'a column not asked for is empty');
  const eth = view.candles('m1', 1);
  assert.deepEqual([...eth.close], [4, 5]);
  assert.equal(eth.closed(), eth);
  assert.equal(view.candles('h1', 0).length, 0);
  assert.deepEqual([...view.history(0).price], [99, 100]);
  assert.deepEqual([...view.history(1).volume24h], [3]);
});

test('verdicts clamp and take the thresholds', () => {
  assert.deepEqual(
    [-5, 20, 30, 50, 60, 80, 120].map((s) => verdict(s).signal),
    ['strong-sell', 'strong-sell', 'sell', 'neutral', 'buy', 'strong-buy', 'strong-buy'],
  );
  assert.equal(verdict(-5).score, 0);
  assert.equal(verdict(120).score, 100);
  assert.ok(Number.isNaN(verdict(NaN).score));
});

test('analyses pad missing figures with NaN', () => {
  const out = new AnalysesBuilder(['a', 'b'], 2);
  out.push(verdict(70), [1]);
  out.abstain();
  const built = out.finish();
  assert.equal(built.verdicts[0]?.signal, 'buy');
  assert.equal(built.verdicts[1], undefined);
  assert.deepEqual(built.componentNames, ['a', 'b']);
  assert.equal(built.components[0], 1);
  assert.ok([...built.components.slice(1)].every(Number.isNaN));
});

test('held signals move only a margin past a threshold and round-trip', () => {
  const held = HeldSignals.decode(new TextEncoder().encode('{"BTCUSDT": "BUY"}'));
  const next = new HeldSignals();
  assert.equal(held.verdict('BTCUSDT', 57, 5, next).signal, 'buy');
  assert.equal(held.verdict('ETHUSDT', 57, 5, next).signal, 'neutral');
  assert.equal(held.verdict('BTCUSDT', 54, 5, new HeldSignals()).signal, 'neutral');
  assert.equal(HeldSignals.decode(next.encode()).get('BTCUSDT'), 'buy');
  assert.equal(HeldSignals.decode(new Uint8Array()).size, 0);
});

test('cache entries are JSON or text with an optional TTL', () => {
  const entry = CacheEntry.json('k', { a: 1 }).withTtl(30);
  assert.deepEqual({ ...entry }, { key: 'k', value: { tag: 'json', val: '{"a":1}' }, ttlSeconds: 30 });
  assert.deepEqual(CacheEntry.text('r', 'BULLISH').value, { tag: 'text', val: 'BULLISH' });
});

test('JSON has BigInt as a number and numbers that are not finite as null, as the other SDKs write it', () => {
  assert.equal(CacheEntry.json('k', { cycle: 7n, a: NaN }).value.val, '{"cycle":7,"a":null}');
  assert.throws(() => CacheEntry.json('k', undefined), /no JSON form/);
});

test('a symbol out of range has no name and no candles', () => {
  const view = new MarketView(MARKET);
  assert.equal(view.symbol(5), '');
  assert.equal(view.candles('m1', 5).length, 0);
});

test('held signals are a copy, and an unknown or inherited name is no signal', () => {
  const names = { BTCUSDT: 'BUY', ETHUSDT: 'MAYBE' };
  const held = new HeldSignals(names);
  held.verdict('SOLUSDT', 90, 5, held);
  assert.deepEqual(names, { BTCUSDT: 'BUY', ETHUSDT: 'MAYBE' });
  assert.equal(held.get('ETHUSDT'), undefined);
  assert.equal(held.get('constructor'), undefined);
});

test('a series without columns has no candles, and components read by name', () => {
  const bare = {
    symbols: { text: 'BTCUSDT', ends: [7] },
    price: [1],
    candles: [{ timeframe: /** @type {const} */ ('m1'), lengths: [3], forming: [true] }],
  };
  assert.equal(new MarketView(bare).candles('m1', 0).length, 0);
  const built = new AnalysesBuilder(['a', 'b'], 2);
  built.push(verdict(50), [1, NaN]);
  built.push(verdict(50), [2, 3]);
  assert.deepEqual(new ComponentsView(built.finish(), 1).entries(), [['a', 2], ['b', 3]]);
  assert.deepEqual(new ComponentsView(built.finish(), 0).entries(), [['a', 1]]);
});

test('signals have their cache names and sides, as the Rust SDK gives them', () => {
  assert.deepEqual(
    ['strong-buy', 'buy', 'neutral', 'sell', 'strong-sell'].map((s) => [signalName(s), isBuy(s), isSell(s)]),
    [
      ['STRONG_BUY', true, false],
      ['BUY', true, false],
      ['NEUTRAL', false, false],
      ['SELL', false, true],
      ['STRONG_SELL', false, true],
    ],
  );
  assert.throws(() => signalName(/** @type {any} */ ('hold')), RangeError);
});
