import { describe, expect, it } from 'vitest';
import type { Sample } from '../api/schemas.js';
import { SampleBuffer } from './sample-buffer.js';

const sample = (t: number, cpu: number): Sample => ({ t, powerW: { cpu, gpu: null, ram: 2 }, totalPowerW: cpu + 2 });

describe('SampleBuffer', () => {
  it('keeps recent samples as taken, in order', () => {
    const b = new SampleBuffer({ capacityPerLevel: 10, factor: 5, levels: 2 });
    for (let i = 0; i < 8; i++) b.push(sample(i * 1000, i));
    expect(b.since().map(s => s.t)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000]);
    expect(b.since(5000).map(s => s.powerW.cpu)).toEqual([5, 6, 7]);
  });

  it('averages the oldest samples into coarser ones, keeping nulls null', () => {
    const b = new SampleBuffer({ capacityPerLevel: 10, factor: 5, levels: 2 });
    for (let i = 0; i < 11; i++) b.push(sample(i * 1000, i));
    const all = b.since();
    expect(all[0]).toEqual({ t: 2000, powerW: { cpu: 2, gpu: null, ram: 2 }, totalPowerW: 4 });
    expect(all.slice(1).map(s => s.t)).toEqual([5000, 6000, 7000, 8000, 9000, 10000]);
  });

  it('stays bounded however many samples arrive (a simulated day at 1 Hz)', () => {
    const b = new SampleBuffer();
    for (let i = 0; i < 86_400; i++) b.push(sample(i * 1000, i % 100));
    expect(b.size).toBeLessThanOrEqual(4 * 600);
    const all = b.since();
    expect(all.at(-1)!.t).toBe(86_399_000);
    for (let i = 1; i < all.length; i++) expect(all[i]!.t).toBeGreaterThan(all[i - 1]!.t);
  });

  it('rejects a factor larger than the capacity', () => {
    expect(() => new SampleBuffer({ capacityPerLevel: 3, factor: 5 })).toThrow(
      'capacityPerLevel must be >= factor >= 2',
    );
  });
});
