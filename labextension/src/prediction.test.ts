import { describe, expect, it } from 'vitest';
import { makeEpoch } from '../test-support/fixtures';
import { predictRun } from './prediction';

describe('predictRun', () => {
  it('is null before the first epoch finishes or without an epoch count', () => {
    expect(predictRun({ nEpoch: 3, epochs: [] })).toBeNull();
    expect(predictRun({ nEpoch: 3, epochs: [makeEpoch(0, { status: 'open' })] })).toBeNull();
    expect(predictRun({ nEpoch: 0, epochs: [makeEpoch(0)] })).toBeNull();
  });

  it('multiplies the mean finished epoch by the announced count', () => {
    const epochs = [
      makeEpoch(0, { facilityEnergyJ: 10, emissionsG: 1, durationS: 2 }),
      makeEpoch(1, { facilityEnergyJ: 20, emissionsG: 3, durationS: 4 }),
      makeEpoch(2, { status: 'open', facilityEnergyJ: 1000, emissionsG: 1000, durationS: 1000 }),
    ];
    const prediction = predictRun({ nEpoch: 10, epochs });
    expect(prediction).toEqual({
      energyJ: 150,
      emissionsG: 20,
      durationS: 30,
      epochsDone: 2,
      nEpoch: 10,
      remainingEnergyJ: 120,
      remainingDurationS: 24,
    });
  });

  it('is updated as epochs finish', () => {
    const one = predictRun({ nEpoch: 4, epochs: [makeEpoch(0, { facilityEnergyJ: 10 })] });
    const two = predictRun({
      nEpoch: 4,
      epochs: [makeEpoch(0, { facilityEnergyJ: 10 }), makeEpoch(1, { facilityEnergyJ: 30 })],
    });
    expect(one?.energyJ).toBe(40);
    expect(two?.energyJ).toBe(80);
  });
});
