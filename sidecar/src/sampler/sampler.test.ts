import { describe, expect, it } from 'vitest';
import { ScriptedCounter } from '../../test-support/scripted-source.js';
import type { Sample } from '../api/schemas.js';
import { Meter } from '../power/meter.js';
import { Sampler } from './sampler.js';

describe('Sampler', () => {
  it('turns counter deltas into power, prefers a source’s own power, and leaves absent components null', async () => {
    const cpu = new ScriptedCounter('rapl', 'cpu', 'rapl', true);
    const gpu = new ScriptedCounter('no-gpu', 'gpu', 'none', false);
    const ram = new ScriptedCounter('ram-model', 'ram', 'ram-model', false);
    ram.powerW = 6;
    const samples: Sample[] = [];
    const deltas: unknown[] = [];
    let checkpoints = 0;
    const sampler = new Sampler({
      meter: new Meter([cpu, gpu, ram]),
      intervalMs: 1_000_000,
      checkpointIntervalMs: 30,
      onSample: (s, _r, d) => {
        samples.push(s);
        deltas.push(d);
      },
      onCheckpoint: () => checkpoints++,
    });
    sampler.start();
    await new Promise(r => setTimeout(r, 40));
    cpu.energyJ = 4;
    ram.energyJ = 1;
    const s = sampler.tick();
    sampler.stop();
    expect(s.powerW.gpu).toBeNull();
    expect(s.powerW.ram).toBe(6);
    // 4 J over ~40 ms: about 100 W (timers are not exact).
    expect(s.powerW.cpu).toBeGreaterThan(20);
    expect(s.powerW.cpu).toBeLessThan(110);
    expect(s.totalPowerW).toBeCloseTo(s.powerW.cpu! + 6, 9);
    expect(deltas[0]).toEqual({ cpu: 4, ram: 1 });
    expect(checkpoints).toBe(1);
    expect(samples).toEqual([s]);
  });

  it('keeps ticking when a listener throws', () => {
    const logs: string[] = [];
    const sampler = new Sampler({
      meter: new Meter([new ScriptedCounter('rapl', 'cpu', 'rapl', true)]),
      intervalMs: 1000,
      checkpointIntervalMs: 1000,
      onSample: () => {
        throw new Error('boom');
      },
      onCheckpoint: () => {},
      log: m => logs.push(m),
    });
    expect(() => sampler.tick()).not.toThrow();
    expect(logs).toEqual(['sampler tick failed: boom']);
  });
});

describe('Sampler idle rate', () => {
  it('ticks at the idle interval while nothing listens, and at its own rate again once woken', async () => {
    let idle = true;
    let ticks = 0;
    const sampler = new Sampler({
      meter: new Meter([new ScriptedCounter('rapl', 'cpu', 'rapl', true)]),
      intervalMs: 10,
      idleIntervalMs: 10_000,
      checkpointIntervalMs: 100_000,
      onSample: () => ticks++,
      onCheckpoint: () => {},
      idle: () => idle,
    });
    sampler.start();
    await new Promise(r => setTimeout(r, 150));
    expect(ticks).toBeLessThanOrEqual(1); // the first tick is scheduled before anyone asked, at the idle rate
    idle = false;
    sampler.wake();
    await new Promise(r => setTimeout(r, 150));
    sampler.stop();
    expect(ticks).toBeGreaterThanOrEqual(3);
  });
});
