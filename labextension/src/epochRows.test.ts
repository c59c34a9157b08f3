import { describe, expect, it } from 'vitest';
import { componentEnergy, makeEpoch, makeRun } from '../test-support/fixtures';
import { epochRows } from './epochRows';

describe('epochRows', () => {
  it("numbers epochs as the user's loop does (from 0) and adds the set-up outside epochs", () => {
    const run = makeRun('r', {
      durationS: 3.5,
      facilityEnergyJ: 114,
      emissionsG: 0.02,
      energy: {
        cpu: componentEnergy({ energyJ: 95, method: 'rapl', measured: true }),
        gpu: componentEnergy({ included: false }),
        ram: componentEnergy({ energyJ: 19, method: 'ram-model' }),
      },
      epochs: [0, 1, 2].map(i => makeEpoch(i, { durationS: 1, facilityEnergyJ: 35.1666, emissionsG: 0.006 })),
    });
    const rows = epochRows(run);
    expect(rows.map(row => row.index)).toEqual([0, 1, 2, null]);
    const outside = rows[3];
    expect(outside.status).toBe('outside');
    expect(outside.facilityEnergyJ).toBeCloseTo(114 - 3 * 35.1666, 9);
    expect(outside.durationS).toBeCloseTo(0.5, 9);
    expect(outside.emissionsG).toBeCloseTo(0.002, 9);
    // Per component: the run's IT energy minus the epochs' (10 J CPU and 2 J RAM each).
    expect(outside.componentsJ).toEqual({ cpu: 65, ram: 13 });
    expect(rows.reduce((total, row) => total + row.facilityEnergyJ, 0)).toBeCloseTo(114, 9);
  });

  it('has no outside row when the epochs cover the run, or while the run is still open', () => {
    const epochs = [makeEpoch(0), makeEpoch(1)];
    expect(epochRows(makeRun('a', { facilityEnergyJ: 24, epochs })).map(r => r.index)).toEqual([0, 1]);
    expect(epochRows(makeRun('b', { status: 'open', facilityEnergyJ: 50, epochs })).map(r => r.index)).toEqual([0, 1]);
    expect(epochRows(makeRun('c', { epochs: [] }))).toEqual([]);
  });
});
