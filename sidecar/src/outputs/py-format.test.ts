import { describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../test-support/make-run.js';
import { csvCells, pyFeatures, pyJson, pyRepr } from './py-format.js';
import { runToRecord } from './record.js';

describe('pyRepr matches Python repr(float)', () => {
  // Expected strings are what CPython 3.11 prints for repr(x).
  const cases: Array<[number, string]> = [
    [12, '12.0'],
    [0.1, '0.1'],
    [1.234e-5, '1.234e-05'],
    [0.0001, '0.0001'],
    [0.00012345, '0.00012345'],
    [1e-5, '1e-05'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [123456789.125, '123456789.125'],
    [-2.5, '-2.5'],
    [0, '0.0'],
    [-0, '-0.0'],
    [1 / 3, '0.3333333333333333'],
    [2.7777777777777776e-7, '2.7777777777777776e-07'],
    [1e100, '1e+100'],
    [5e-324, '5e-324'],
    [Number.POSITIVE_INFINITY, 'inf'],
    [Number.NaN, 'nan'],
  ];
  it.each(cases)('%s → %s', (value, expected) => {
    expect(pyRepr(value)).toBe(expected);
  });
});

describe('n_features as Python str()', () => {
  it('writes an int, a 1-tuple, a tuple and a list of tuples', () => {
    expect(pyFeatures(10)).toBe('10');
    expect(pyFeatures([784])).toBe('(784,)');
    expect(pyFeatures([28, 28])).toBe('(28, 28)');
    expect(pyFeatures([[784], [10, 3]])).toBe('[(784,), (10, 3)]');
  });
});

describe('pyJson is the body requests.post(json=...) sends', () => {
  it('uses json.dumps separators, Python floats, null for None and arrays for tuples', () => {
    const record = runToRecord(makeRun({ nFeatures: [784], pue: 1 }), HARDWARE, { modelId: 'a'.repeat(64) });
    const body = pyJson(record);
    expect(body.startsWith('{"timestamp": "')).toBe(true);
    expect(body).toContain('"n_features": [784]');
    expect(body).toContain('"pue": 1.0}');
    expect(body).toContain('"gpu_count": null');
    expect(body).toContain('"n_batch": 0, "time_batch": 0,');
    expect(Object.keys(JSON.parse(body))).toHaveLength(40);
  });

  it('escapes non-ASCII like ensure_ascii', () => {
    const record = runToRecord(makeRun(), { ...HARDWARE, cpuModel: 'Ryzen™ 9' });
    expect(pyJson(record)).toContain('"cpu_model": "Ryzen\\u2122 9"');
    expect(csvCells(record)[33]).toBe('Ryzen™ 9');
  });
});

describe('pyRepr against CPython itself', () => {
  it('prints 3000 random doubles exactly as python3 repr() does', async ctx => {
    const { spawnSync } = await import('node:child_process');
    const fc = await import('fast-check');
    const values = fc
      .sample(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: 1e-9, max: 1e6 })), {
        numRuns: 3000,
        seed: 42,
      })
      .filter(v => Number.isFinite(v) && !Object.is(v, -0)); // JSON carries neither -0 nor infinities
    const script = 'import json,sys\nfor v in json.load(sys.stdin): print(repr(float(v)))';
    const python = spawnSync('python3', ['-c', script], { input: JSON.stringify(values), encoding: 'utf8' });
    if (python.error) {
      ctx.skip(`python3 is not available to compare with: ${python.error.message}`);
      return;
    }
    expect(python.stderr).toBe('');
    expect(values.map(pyRepr)).toEqual(python.stdout.trim().split('\n'));
  });
});
