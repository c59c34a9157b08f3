import { describe, expect, it } from 'vitest';
import { gpuSourceReading } from './gpu-reading.js';

describe('gpuSourceReading', () => {
  it('sums energy and power over the GPUs', () => {
    const devices = [
      { deviceId: 'gpu0', energyJ: 10, powerW: 100 },
      { deviceId: 'gpu1', energyJ: 5.5, powerW: 50 },
    ];
    expect(gpuSourceReading(42, devices)).toEqual({ monoMs: 42, energyJ: 15.5, powerW: 150, devices });
  });

  it('gives no total power when one GPU has none, but still sums energy', () => {
    const devices = [
      { deviceId: 'gpu0', energyJ: 10, powerW: 100 },
      { deviceId: 'gpu1', energyJ: 2, powerW: null },
    ];
    expect(gpuSourceReading(1, devices)).toEqual({ monoMs: 1, energyJ: 12, powerW: null, devices });
  });

  it('reads zero energy and power for no GPU', () => {
    expect(gpuSourceReading(0, [])).toEqual({ monoMs: 0, energyJ: 0, powerW: 0, devices: [] });
  });
});
