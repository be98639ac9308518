// The vectors catch a difference of one rounding: a copy of this SDK with one operation
// reordered (the window's running sum, `(sum - ring[pos]) + x` as `sum + (x - ring[pos])`, the same in
// exact arithmetic) fails them, and names the cases.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The vectors run on a copy of the SDK with `from` rewritten as `to` in `indicators/FILE`: they
 * fail on SMA, and pass RSI.
 * @param {string} file
 * @param {string} from
 * @param {string} to
 */
function plantedRun(file, from, to) {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-planted-'));
  try {
    cpSync(fileURLToPath(new URL('../src', import.meta.url)), join(dir, 'src'), { recursive: true });
    for (const name of ['vectors.test.js', 'vectors.js']) {
      cpSync(fileURLToPath(new URL(`./${name}`, import.meta.url)), join(dir, 'test', name));
    }
    const path = join(dir, 'src', 'indicators', file);
    const text = readFileSync(path, 'utf8');
    const planted = text.replace(from, to);
    assert.notEqual(planted, text, `the operation to reorder is in ${file}`);
    writeFileSync(path, planted);
    const vectors = fileURLToPath(new URL('../../vectors/indicators.json', import.meta.url));
    // Without NODE_TEST_CONTEXT, which would make the inner run report to this one instead.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', join(dir, 'test', 'vectors.test.js')], {
      env: { ...env, PULSE_VECTORS: vectors },
      encoding: 'utf8',
    });
    assert.notEqual(run.status, 0, run.stdout);
    assert.match(run.stdout, /not ok \d+ - sma\(14\) on walk/);
    // What the reordering cannot touch still passes: RSI keeps no window.
    assert.match(run.stdout, /\nok \d+ - rsi\(14\) on walk/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each form planted alone: the vectors hold the streaming form (the window) and the batch form
// (its own loop) each to the expected bits, so neither can drift.
test('a planted reordering in the streaming form (the window) fails the vectors', () => {
  plantedRun('window.js', '(sum - ring[this.pos]) + x', 'sum + (x - ring[this.pos])');
});

test('a planted reordering in the batch form (its loop) fails the vectors', () => {
  plantedRun('sma.js', '(sum - ring[pos]) + value', 'sum + (value - ring[pos])');
});
