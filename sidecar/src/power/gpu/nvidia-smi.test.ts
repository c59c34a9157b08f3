import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFakeNvidiaSmi } from '../../../test-support/fake-nvidia-smi.js';
import { FakeRoot } from '../../../test-support/fake-sysfs.js';
import { windowFigures } from '../../ledger/figures.js';
import { Meter } from '../meter.js';
import { NvidiaSmiSource, parseSmiLine } from './nvidia-smi.js';

let fake: FakeRoot;
let source: NvidiaSmiSource | null = null;
beforeEach(() => {
  fake = new FakeRoot();
});
afterEach(async () => {
  await source?.stop();
  source = null;
  fake.cleanup();
});

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const gpu = (index: number) => ({ index, uuid: `GPU-${index}`, name: 'NVIDIA H100 80GB HBM3' });
const smiInvocations = (logPath: string) =>
  readFileSync(logPath, 'utf8')
    .trim()
    .split('\n')
    .filter(l => l.includes('-lms'));

describe('parseSmiLine', () => {
  it("reads index, the stream's timestamp (local time) and power; [N/A] is an unknown power, not 0 W", () => {
    const wallMs = new Date(2026, 10, 21, 10, 0, 0, 250).getTime();
    expect(parseSmiLine('0, 2026/11/21 10:00:00.250, 71.25')).toEqual({ index: 0, wallMs, powerW: 71.25 });
    expect(parseSmiLine('1, 2026/11/21 10:00:00.250, [N/A]')).toEqual({ index: 1, wallMs, powerW: null });
    expect(parseSmiLine('garbage')).toBeNull();
  });
});

describe('NvidiaSmiSource', () => {
  it('streams from ONE child with power.draw.instant and integrates power over time per GPU', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    smi.setPower(0, 100);
    smi.setPower(2, 300);
    source = new NvidiaSmiSource({ smiPath: smi.path, gpus: [gpu(0), gpu(2)], rule: 'test', intervalMs: 50 });
    const probe = await source.probe();
    expect(probe.available).toBe(true);
    expect(probe.detail).toMatch(/^power\.draw\.instant every 50 ms from one streaming nvidia-smi/);
    await source.start();
    await sleep(400); // first samples in
    const a = source.read();
    await sleep(1000);
    const b = source.read();
    const dtS = (b.monoMs - a.monoMs) / 1000;
    const [gpu0, gpu2] = [0, 1].map(i => b.devices[i]!.energyJ - a.devices[i]!.energyJ);
    expect(b.devices.map(d => d.deviceId)).toEqual(['gpu0', 'gpu2']);
    // Constant power: energy = P × t, within the jitter of the fake's sleep loop.
    expect(gpu0! / dtS).toBeGreaterThan(90);
    expect(gpu0! / dtS).toBeLessThan(110);
    expect(gpu2! / dtS).toBeGreaterThan(270);
    expect(gpu2! / dtS).toBeLessThan(330);
    expect(b.powerW).toBe(400);
    const runs = smiInvocations(smi.logPath);
    expect(runs).toEqual([
      '--query-gpu=index,timestamp,power.draw.instant --format=csv,noheader,nounits -lms 50 -i 0,2',
    ]);
  });

  it('integrates a power step with the trapezoid (energy between the two levels)', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    smi.setPower(1, 100);
    source = new NvidiaSmiSource({ smiPath: smi.path, gpus: [gpu(1)], rule: 'test', intervalMs: 50 });
    await source.start();
    await sleep(300);
    const a = source.read();
    await sleep(500);
    smi.setPower(1, 200);
    await sleep(500);
    const b = source.read();
    const meanW = (b.energyJ - a.energyJ) / ((b.monoMs - a.monoMs) / 1000);
    expect(meanW).toBeGreaterThan(130);
    expect(meanW).toBeLessThan(170);
  });

  it('falls back to power.draw where the driver has no power.draw.instant', async () => {
    const smi = makeFakeNvidiaSmi(fake.root, { noInstant: true });
    source = new NvidiaSmiSource({ smiPath: smi.path, gpus: [gpu(0)], rule: 'test', intervalMs: 50 });
    expect((await source.probe()).detail).toContain('power.draw every 50 ms');
    await source.start();
    await sleep(200);
    expect(smiInvocations(smi.logPath)[0]).toBe(
      '--query-gpu=index,timestamp,power.draw --format=csv,noheader,nounits -lms 50 -i 0',
    );
  });

  it('restarts the child when it dies and keeps counting, never going down', async () => {
    const smi = makeFakeNvidiaSmi(fake.root, { dieAfter: 3 });
    source = new NvidiaSmiSource({
      smiPath: smi.path,
      gpus: [gpu(0)],
      rule: 'test',
      intervalMs: 50,
      restartDelayMs: 50,
    });
    await source.start();
    const readings: number[] = [];
    for (let i = 0; i < 12; i++) {
      await sleep(100);
      readings.push(source.read().energyJ);
    }
    expect(source.spawns).toBeGreaterThanOrEqual(3);
    // One process per (re)start, never one per sample; the newest may not have logged its start yet.
    const invocations = smiInvocations(smi.logPath).length;
    expect(invocations).toBeLessThanOrEqual(source.spawns);
    expect(invocations).toBeGreaterThanOrEqual(source.spawns - 1);
    for (let i = 1; i < readings.length; i++) expect(readings[i]!).toBeGreaterThanOrEqual(readings[i - 1]!);
    // About 100 W over ~1.1 s of samples, gaps bridged: well above zero and below 100 W × 1.4 s.
    expect(readings.at(-1)!).toBeGreaterThan(60);
    expect(readings.at(-1)!).toBeLessThan(140);
  });

  it('stop() ends the child and no restart follows', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    source = new NvidiaSmiSource({
      smiPath: smi.path,
      gpus: [gpu(0)],
      rule: 'test',
      intervalMs: 50,
      restartDelayMs: 20,
    });
    await source.start();
    await sleep(100);
    const pid = source.childPid()!;
    await source.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await sleep(150);
    expect(source.spawns).toBe(1);
  });

  it('is unavailable with no selected GPU, giving the inventory reason', async () => {
    source = new NvidiaSmiSource({
      smiPath: '/nonexistent',
      gpus: [],
      rule: 'all GPUs',
      noneReason: 'no NVIDIA GPU found (x)',
    });
    expect(await source.probe()).toEqual({ available: false, reason: 'no NVIDIA GPU found (x)' });
  });
});

describe('window edges and unknown power', () => {
  const waitForSamples = async (s: NvidiaSmiSource) => {
    for (let i = 0; i < 100 && s.read().powerW === null; i++) await sleep(20);
  };

  it('a 30 ms window after a 120 → 400 W step is interpolated from the samples around it, not extrapolated', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    smi.setPower(0, 120);
    source = new NvidiaSmiSource({ smiPath: smi.path, gpus: [gpu(0)], rule: 'test', intervalMs: 100 });
    await source.start();
    await waitForSamples(source);
    await sleep(150);
    const meter = new Meter([source]);
    smi.setPower(0, 400); // the load starts with the window
    const start = meter.read();
    await sleep(30);
    const end = meter.read();
    const extrapolatedJ = end.components.gpu!.energyJ - start.components.gpu!.energyJ;
    await meter.settle([start, end]);
    const interpolatedJ = end.components.gpu!.energyJ - start.components.gpu!.energyJ;
    const windowS = (end.monoMs - start.monoMs) / 1000;
    // Holding the last sample (120 W) over the window gives 120 W × 30 ms = 3.6 J whatever the load did;
    // between the samples around the window the power rises towards 400 W.
    if (process.env.PNAV_PRINT_FIGURES) console.log({ windowS, extrapolatedJ, interpolatedJ, truthJ: 400 * windowS });
    expect(interpolatedJ).toBeGreaterThan(140 * windowS);
    expect(interpolatedJ).toBeLessThanOrEqual(400 * windowS * 1.01);
  });

  it('integrates on the stream timestamps when lines come in bursts (a block-buffered pipe)', async () => {
    const smi = makeFakeNvidiaSmi(fake.root, { burst: 5 });
    smi.setPower(0, 400);
    source = new NvidiaSmiSource({ smiPath: smi.path, gpus: [gpu(0)], rule: 'test', intervalMs: 40 });
    await source.start();
    await waitForSamples(source);
    const meter = new Meter([source]);
    const start = meter.read();
    await sleep(600);
    const end = meter.read();
    await meter.settle([start, end]);
    const windowS = (end.monoMs - start.monoMs) / 1000;
    const energyJ = end.components.gpu!.energyJ - start.components.gpu!.energyJ;
    expect(Math.abs(energyJ - 400 * windowS) / (400 * windowS)).toBeLessThan(0.05);
  });

  it('[N/A] power is unavailable for the window, never a measured 0 J', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    smi.setPower(0, '[N/A]');
    source = new NvidiaSmiSource({ smiPath: smi.path, gpus: [gpu(0)], rule: 'test', intervalMs: 50 });
    await source.start();
    await sleep(200);
    expect(() => source!.read()).toThrow('nvidia-smi reports power [N/A] for GPU 0');
    const meter = new Meter([source]);
    const start = meter.read();
    await sleep(100);
    const end = meter.read();
    const figures = windowFigures(start, end, {
      sourceOf: c => meter.source(c),
      included: ['gpu'],
      gpuIds: null,
      health: (c, a, b) => meter.health(c, a, b),
    });
    expect(figures.energy.gpu).toMatchObject({
      energyJ: 0,
      measured: false,
      quality: 'unavailable',
      degraded: 'nvidia-smi: nvidia-smi reports power [N/A] for GPU 0',
    });
    expect(figures.degraded).toBe('gpu: nvidia-smi: nvidia-smi reports power [N/A] for GPU 0');
  });
});
