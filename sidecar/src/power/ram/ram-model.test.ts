import { describe, expect, it } from 'vitest';
import { RamModelSource, ramModel, ramPowerPerDimmW, ramPowerPerGbW } from './ram-model.js';

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
    expect(m.dimmType).toBe('DDR5');
    expect(m.description).toBe('4 DIMMs DDR5 × 5 W (CodeCarbon v3 per-DIMM model, floor 10 W): 20.0 W');
  });

  it('falls back to 0.375 W/GB (3 W per 8 GB) without DIMM facts', () => {
    expect(ramPowerPerGbW(8)).toBe(3);
    const m = ramModel({ totalMemBytes: 32 * GiB, memLimitBytes: null, dimms: [], arch: 'x86' });
    expect(m.powerW).toBe(12);
    expect(m.dimmCount).toBeNull();
  });

  it('ignores an untyped pseudo-module (VMs, no dmidecode rights) and uses per-GB', () => {
    const m = ramModel({
      totalMemBytes: 32 * GiB,
      memLimitBytes: null,
      dimms: [{ sizeBytes: 32 * GiB, type: '' }],
      arch: 'x86',
    });
    expect(m.powerW).toBe(12);
    expect(m.description).toBe(
      '32.0 GB × 0.375 W/GB (3 W per 8 GB, CodeCarbon v2 / calculadorapnav; DIMMs not reported)',
    );
  });

  it('charges only the scope memory limit', () => {
    expect(ramModel({ totalMemBytes: 256 * GiB, memLimitBytes: 4 * GiB, dimms: [], arch: 'x86' }).powerW).toBe(1.5);
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
    expect(r.powerW).toBe(6);
    expect(r.energyJ).toBeGreaterThan(6 * 0.04);
    expect(r.energyJ).toBeLessThan(6 * 1);
  });
});
