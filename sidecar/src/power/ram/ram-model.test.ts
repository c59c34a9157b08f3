import { describe, expect, it } from 'vitest';
import { estimateDimmCount, RamModelSource, ramModel, ramPowerPerDimmW } from './ram-model.js';

const GiB = 1024 ** 3;
const dimms = (n: number, type = 'DDR4') => Array.from({ length: n }, () => ({ sizeBytes: 16 * GiB, type }));

describe('per-DIMM model (CodeCarbon v3)', () => {
  it('5 W per DIMM, 90/80/70 % beyond 4/8/16 DIMMs, 10 W floor on x86', () => {
    expect(ramPowerPerDimmW(1)).toBe(10);
    expect(ramPowerPerDimmW(2)).toBe(10);
    expect(ramPowerPerDimmW(4)).toBe(20);
    expect(ramPowerPerDimmW(8)).toBeCloseTo(38, 10);
    expect(ramPowerPerDimmW(16)).toBeCloseTo(70, 10);
    expect(ramPowerPerDimmW(20)).toBeCloseTo(84, 10);
    expect(ramPowerPerDimmW(2, 'arm')).toBe(3);
  });
});

describe('ramModel', () => {
  it('uses DIMMs when reported', () => {
    const m = ramModel({ totalMemBytes: 64 * GiB, memLimitBytes: null, dimms: dimms(4, 'DDR5'), arch: 'x86' });
    expect(m.powerW).toBe(20);
    expect(m.dimmCount).toBe(4);
    expect(m.dimmCountSource).toBe('reported');
    expect(m.dimmType).toBe('DDR5');
    expect(m.description).toBe(
      '4 DIMMs DDR5 reported × 5 W, 90/80/70 % beyond 4/8/16 DIMMs, floor 10 W (CodeCarbon 3 RAM model): 20.0 W',
    );
  });

  it('estimates the DIMM count from the size as CodeCarbon 3 does when DIMMs are not reported', () => {
    // Pairs of (GiB, DIMMs) from codecarbon/external/ram.py _estimate_dimm_count.
    for (const [gb, n] of [
      [2, 1],
      [8, 2],
      [16, 2],
      [24, 4],
      [64, 4],
      [128, 8],
      [192, 12],
      [256, 8],
      [1024, 8],
      [2048, 16],
      [4096, 32],
      [16384, 32],
    ] as const)
      expect([gb, estimateDimmCount(gb)]).toEqual([gb, n]);
  });

  it('stays physically plausible from 8 GB to 4 TiB (a flat 0.375 W/GB gave 768 W at 2 TiB)', () => {
    const watts = (gb: number) => ramModel({ totalMemBytes: gb * GiB, memLimitBytes: null, dimms: [], arch: 'x86' });
    expect(watts(8).powerW).toBe(10);
    expect(watts(24).powerW).toBe(20);
    expect(watts(1024).powerW).toBeCloseTo(38, 10);
    expect(watts(2048).powerW).toBeCloseTo(70, 10);
    expect(watts(4096).powerW).toBeCloseTo(126, 10);
    for (let gb = 8; gb <= 4096; gb *= 2) {
      const w = watts(gb).powerW;
      expect(w).toBeGreaterThanOrEqual(10);
      expect(w).toBeLessThanOrEqual(32 * 5); // never more than 5 W for each of CodeCarbon's at most 32 DIMMs
    }
    expect(watts(2048).dimmCountSource).toBe('estimated-from-size');
    expect(watts(2048).description).toBe(
      '16 DIMMs estimated from 2048.0 GB (CodeCarbon 3 DIMM-count estimate) × 5 W, 90/80/70 % beyond 4/8/16 DIMMs, floor 10 W (CodeCarbon 3 RAM model): 70.0 W',
    );
  });

  it('ignores an untyped pseudo-module (VMs, no dmidecode rights) and estimates the count', () => {
    const m = ramModel({
      totalMemBytes: 32 * GiB,
      memLimitBytes: null,
      dimms: [{ sizeBytes: 32 * GiB, type: '' }],
      arch: 'x86',
    });
    expect(m.powerW).toBe(20);
    expect(m.dimmCountSource).toBe('estimated-from-size');
  });

  it('charges only the scope memory limit, as a share of the machine figure', () => {
    expect(ramModel({ totalMemBytes: 256 * GiB, memLimitBytes: 64 * GiB, dimms: [], arch: 'x86' }).powerW).toBeCloseTo(
      38 / 4,
      10,
    );
    const m = ramModel({ totalMemBytes: 256 * GiB, memLimitBytes: 64 * GiB, dimms: dimms(16), arch: 'x86' });
    expect(m.powerW).toBeCloseTo(70 / 4, 10);
  });
});

describe('RamModelSource', () => {
  it('integrates constant power since start, labelled ram-model and not measured', async () => {
    const src = new RamModelSource(ramModel({ totalMemBytes: 16 * GiB, memLimitBytes: null, dimms: [], arch: 'x86' }));
    expect(src.method).toBe('ram-model');
    expect(src.measured).toBe(false);
    expect(src.read().energyJ).toBe(0);
    await src.start();
    await new Promise(r => setTimeout(r, 50));
    const r = src.read();
    expect(r.powerW).toBe(10);
    expect(r.energyJ).toBeGreaterThan(10 * 0.04);
    expect(r.energyJ).toBeLessThan(10 * 1);
  });
});
