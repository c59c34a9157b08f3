/**
 * Every figure of a run says how it was obtained: scope, basis, quality ('coarse' for windows
 * shorter than a few counter updates) and `degraded` when a source failed inside the window.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scriptedMachine } from '../../test-support/scripted-source.js';
import { type OpenRunRequest, OpenRunRequestSchema } from '../api/schemas.js';
import { emissionsG, resolveLocation } from '../carbon/index.js';
import { Meter } from '../power/meter.js';
import { RunStore } from '../store/run-store.js';
import { Ledger } from './ledger.js';

let tmp: string;
let store: RunStore;
let machine: ReturnType<typeof scriptedMachine>;
let ledger: Ledger;

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-provenance-'));
  machine = scriptedMachine();
  machine.cpu.updatePeriodMs = 1; // RAPL
  machine.gpu.updatePeriodMs = 100; // NVML
  store = new RunStore({ dataDir: path.join(tmp, 'data') });
  ledger = new Ledger({
    store,
    meter: new Meter([machine.cpu, machine.gpu, machine.ram]),
    carbon: { resolveLocation, emissionsG },
    scope: { kind: 'machine', detail: 'test' },
    procRoot: path.join(tmp, 'proc'),
    defaults: { pue: 1, typeRam: 'DDR4' },
    provenance: c =>
      ({
        cpu: { basis: 'RAPL package-0', scope: 'machine' },
        gpu: { basis: 'NVML total-energy counter', scope: 'whole GPU' },
        ram: { basis: '16 DIMMs estimated from 2048.0 GB', scope: 'machine' },
      })[c],
  });
  await ledger.load();
});
afterEach(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const open = (r: Partial<OpenRunRequest> = {}) => ledger.openRun(OpenRunRequestSchema.parse(r));
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('window quality', () => {
  it('a window shorter than three NVML updates is coarse; a longer one is fine', async () => {
    const short = open();
    await sleep(20);
    const { run: s } = await ledger.closeRun(short.id, { status: 'ok' });
    expect(s.energy.gpu.quality).toBe('coarse');
    expect(s.energy.cpu.quality).toBe('fine'); // RAPL moves every ~1 ms
    expect(s.energy.ram.quality).toBe('fine'); // a model is exact at any length
    expect(s.windowQuality).toBe('coarse');
    const long = open();
    await sleep(320);
    const { run: l } = await ledger.closeRun(long.id, { status: 'ok' });
    expect(l.energy.gpu.quality).toBe('fine');
    expect(l.windowQuality).toBe('fine');
  });

  it('epochs carry their own window quality', async () => {
    const run = open();
    ledger.openEpoch(run.id, {});
    const epoch = ledger.closeEpoch(run.id, 0, {});
    expect(epoch.windowQuality).toBe('coarse');
    await ledger.closeRun(run.id, { status: 'ok' });
  });
});

describe('provenance of every figure', () => {
  it('names scope and basis per component, and the headline scope', async () => {
    const run = open({ gpuIds: [1] });
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.energyScope).toBe('machine');
    expect(closed.energy.cpu).toMatchObject({ scope: 'machine', basis: 'RAPL package-0', degraded: null });
    expect(closed.energy.gpu).toMatchObject({ scope: 'GPU 1', basis: 'NVML total-energy counter' });
    expect(closed.energy.ram).toMatchObject({ basis: '16 DIMMs estimated from 2048.0 GB', measured: false });
  });

  it('a source failing mid-run marks the run degraded with the reason (its last value is kept)', async () => {
    machine.gpu.energyJ = 10;
    const run = open();
    machine.gpu.energyJ = 30;
    ledger.checkpoint(); // read fine: 20 J so far
    machine.gpu.failWith = 'NVML_ERROR_GPU_IS_LOST';
    machine.gpu.energyJ = 50;
    ledger.checkpoint();
    machine.gpu.failWith = null;
    machine.gpu.energyJ = 60;
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.energy.gpu).toMatchObject({
      energyJ: 50,
      measured: true,
      degraded: 'nvidia-nvml: NVML_ERROR_GPU_IS_LOST',
    });
    expect(closed.degraded).toBe('gpu: nvidia-nvml: NVML_ERROR_GPU_IS_LOST');
    const later = open();
    const { run: clean } = await ledger.closeRun(later.id, { status: 'ok' });
    expect(clean.degraded).toBeNull(); // the failure ended before this window
  });

  it('a source failing for the whole window is unavailable, not a measured zero', async () => {
    machine.gpu.failWith = 'NVML_ERROR_UNKNOWN';
    const run = open();
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.energy.gpu).toMatchObject({ energyJ: 0, measured: false, quality: 'unavailable' });
    expect(closed.quality).toBe('mixed');
  });
});
