// The shared indicator vectors (plugins/vectors/indicators.json), in node: vectors.js checks
// every case bit for bit, as plugins/sdk/tests/vectors.rs checks the Rust SDK.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { mismatches } from './vectors.js';

const file = process.env.PULSE_VECTORS ?? new URL('../../vectors/indicators.json', import.meta.url);
const vectors = JSON.parse(readFileSync(file, 'utf8'));

for (const c of vectors.cases) {
  test(c.name, () => {
    const { found, compared } = mismatches(c, vectors.series);
    assert.ok(compared > 0);
    assert.deepEqual(found.slice(0, 10), [], `${found.length} outputs differ`);
  });
}
