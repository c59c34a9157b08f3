import { describe, expect, it } from 'vitest';
import { EnergyMeter, MAX_GAP_S } from './energyMeter';

const sample = (tS: number, totalPowerW: number) => ({
  t: tS * 1000,
  powerW: { cpu: totalPowerW, gpu: null, ram: null },
  totalPowerW,
});

describe('EnergyMeter', () => {
  it('integrates power over the time between samples and skips long gaps', () => {
    const meter = new EnergyMeter();
    meter.add(sample(100, 20));
    meter.add(sample(101, 30));
    meter.add(sample(101.5, 10));
    expect(meter.energyJ).toBeCloseTo(30 + 5, 9);
    expect(meter.add(sample(101.5, 99))).toBe(false);
    meter.add(sample(101.5 + MAX_GAP_S + 1, 50));
    expect(meter.energyJ).toBeCloseTo(35, 9);
    expect(meter.powerW).toBe(50);
    expect(meter.sinceMs).toBe(100_000);
  });

  it('turns energy into CO2e with the PUE and the grid intensity', () => {
    expect(EnergyMeter.emissionsG(3.6e6, 1.5, 200)).toBeCloseTo(300, 9);
  });
});
