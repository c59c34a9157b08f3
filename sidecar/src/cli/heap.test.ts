/**
 * tuneHeapForSidecar keeps V8's young generation at its initial size however much survives, in a
 * fresh process (the flag is process-wide, so not in the test runner's own): with it, new space
 * stays at a few MB; without it, the same work grows it to its 32 MB maximum.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, SIDECAR_DIR } from '../../test-support/built-cli.js';

const HEAP = pathToFileURL(path.join(SIDECAR_DIR, 'dist', 'cli', 'heap.js')).href;

/** New space size (MB) after keeping a sliding window of objects alive, as the chart buffer once did. */
function newSpaceMbAfterChurn(tune: boolean): number {
  const script = `
    import v8 from 'node:v8';
    const { tuneHeapForSidecar } = await import(${JSON.stringify(HEAP)});
    if (${tune}) tuneHeapForSidecar();
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ t: i, powerW: { cpu: i, ram: 2 } }); if (keep.length > 20000) keep = keep.slice(10000); }
    const s = v8.getHeapSpaceStatistics().find(x => x.space_name === 'new_space');
    console.log(s.space_size / 1048576);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

beforeAll(() => ensureBuilt(), 120_000);

describe('tuneHeapForSidecar', () => {
  it('keeps the young generation small where it would otherwise grow to its maximum', () => {
    expect(newSpaceMbAfterChurn(true)).toBeLessThanOrEqual(4);
    expect(newSpaceMbAfterChurn(false)).toBeGreaterThan(8);
  }, 60_000);
});
