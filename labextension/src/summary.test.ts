import { describe, expect, it } from 'vitest';
import { makeEpoch, makeRun } from '../test-support/fixtures';
import { describeMethods, readSummary, summarize } from './summary';

describe('summarize', () => {
  it('keeps the facility energy, emissions and the included components methods', () => {
    const run = makeRun('r1', { facilityEnergyJ: 14.4, pue: 1.2, nEpoch: 3, epochs: [makeEpoch(0)] });
    const summary = summarize(run);
    expect(summary.energyJ).toBe(14.4);
    expect(summary.methods).toEqual([
      { component: 'cpu', method: 'rapl', measured: true },
      { component: 'ram', method: 'ram-model', measured: false },
    ]);
    expect(summary.epochsDone).toBe(1);
    expect(describeMethods(summary.methods)).toEqual([
      'CPU: RAPL energy counters (measured)',
      'RAM: RAM power model (estimate)',
    ]);
  });
});

describe('readSummary', () => {
  it('reads back what summarize wrote through JSON', () => {
    const summary = summarize(makeRun('r2'));
    expect(readSummary(JSON.parse(JSON.stringify(summary)))).toEqual(summary);
  });

  it('treats malformed metadata as absent', () => {
    expect(readSummary(null)).toBeNull();
    expect(readSummary('x')).toBeNull();
    expect(readSummary({ runId: 'r', energyJ: 'a', emissionsG: 1, durationS: 1 })).toBeNull();
    expect(readSummary({ runId: 'r', energyJ: 1, emissionsG: 1, durationS: 1 })?.quality).toBe('estimated');
  });
});
