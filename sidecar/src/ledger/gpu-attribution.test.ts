/**
 * The ledger on a simulated multi-GPU node: the close reads every counter before the slow
 * nvidia-smi process query, and the kernel's share is attributed per component on its own basis.
 * Fakes only at the hardware boundary: scripted counters, a fake /proc tree, a fake nvidia-smi.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFakeNvidiaSmi } from '../../test-support/fake-nvidia-smi.js';
import { scriptedMachine } from '../../test-support/scripted-source.js';
import { type OpenRunRequest, OpenRunRequestSchema } from '../api/schemas.js';
import { emissionsG, resolveLocation } from '../carbon/index.js';
import { ByProcessGpuScope } from '../power/gpu/by-process.js';
import { type GpuIdentity, visibleGpuIndices } from '../power/gpu/gpu-visibility.js';
import { Meter } from '../power/meter.js';
import { RunStore } from '../store/run-store.js';
import { Ledger } from './ledger.js';

const UUID = ['GPU-aaaa0000-0000', 'GPU-bbbb1111-1111', 'GPU-cccc2222-2222', 'GPU-dddd3333-3333'];
let tmp: string;
let procRoot: string;
let store: RunStore;
let machine: ReturnType<typeof scriptedMachine>;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-gpu-ledger-'));
  procRoot = path.join(tmp, 'proc');
  machine = scriptedMachine();
});
afterEach(() => {
  store?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeProc(rel: string, content: string) {
  const p = path.join(procRoot, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

/** The kernel (pid 100) and its worker (101): CPU ticks and resident memory in kB. */
function kernelTree(ticks: [number, number], rssKb: [number, number]) {
  for (const [i, pid] of [100, 101].entries()) {
    const ppid = pid === 100 ? 1 : 100;
    writeProc(`${pid}/stat`, `${pid} (python3) S ${ppid} 0 0 0 -1 0 0 0 0 0 ${ticks[i]} 0 0 0 20 0 1 0 100 0 0\n`);
    writeProc(`${pid}/task/${pid}/children`, pid === 100 ? '101 ' : '');
    writeProc(`${pid}/status`, `Name:\tpython3\nVmRSS:\t${rssKb[i]} kB\n`);
  }
}

function setGpus(joules: number[]) {
  machine.gpu.devices_ = joules.map((energyJ, i) => ({ deviceId: `gpu${i}`, energyJ, powerW: null }));
  machine.gpu.energyJ = joules.reduce((a, b) => a + b, 0);
}

const INVENTORY = UUID.map((uuid, index) => ({ index, uuid, name: 'NVIDIA H200' }) as GpuIdentity);

function makeLedger(smiPath: string, gpuInventory: GpuIdentity[] = INVENTORY) {
  store = new RunStore({ dataDir: path.join(tmp, 'data') });
  const gpuByProcess = new ByProcessGpuScope(smiPath, procRoot);
  const home = path.join(tmp, 'home');
  return new Ledger({
    store,
    meter: new Meter([machine.cpu, machine.gpu, machine.ram]),
    carbon: { resolveLocation, emissionsG },
    scope: { kind: 'machine', detail: 'test node' },
    procRoot,
    defaults: { pue: 1.5, typeRam: 'DDR4' },
    settings: {
      paths: { homeDir: home, userFile: path.join(home, 'config.toml') },
      mapVisibleGpus: text => visibleGpuIndices(gpuInventory, text),
    },
    gpuByProcess,
  });
}

const req = (r: Partial<OpenRunRequest>) => OpenRunRequestSchema.parse({ cwd: tmp, ...r });

describe('close ordering', () => {
  it('reads the counters before the slow --query-compute-apps: a 1.0 s window stays 1.0 s', async () => {
    const smi = makeFakeNvidiaSmi(tmp, { appsDelayS: 1.5 });
    smi.setApps([{ pid: 101, gpuUuid: UUID[1]!, usedMemoryMiB: 1000 }]);
    kernelTree([10, 10], [1000, 1000]);
    writeProc('stat', 'cpu  1000 0 0 5000 0 0 0 0 0 0\n');
    const ledger = makeLedger(smi.path);
    await ledger.load();
    setGpus([0, 0, 0, 0]);
    const run = ledger.openRun(req({ pid: 100, env: { PNAV_GPU_MODE: 'by-process' } }));
    await new Promise(r => setTimeout(r, 1000));
    setGpus([0, 100, 0, 0]); // 100 W on GPU 1 for the 1 s the cell ran
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    // Reading after the 1.5 s query reported ~2.5 s (and ~250 J once the GPU kept running).
    expect(closed.durationS).toBeGreaterThanOrEqual(1.0);
    expect(closed.durationS).toBeLessThan(2.0);
    expect(closed.gpuIds).toEqual([1]);
    expect(closed.energy.gpu.energyJ).toBe(100);
  });
});

describe('per-component attribution', () => {
  it('a GPU-bound kernel gets its GPU by GPU memory, CPU by CPU time, RAM by resident memory', async () => {
    const smi = makeFakeNvidiaSmi(tmp);
    // The kernel's worker holds all of GPU 0; another user's job holds GPU 1.
    smi.setApps([
      { pid: 101, gpuUuid: UUID[0]!, usedMemoryMiB: 40_000 },
      { pid: 555, gpuUuid: UUID[1]!, usedMemoryMiB: 70_000 },
    ]);
    writeProc('meminfo', `MemTotal: ${32 * 1024 * 1024} kB\nMemAvailable: ${16 * 1024 * 1024} kB\n`);
    writeProc('stat', 'cpu  1000 0 0 5000 0 0 0 0 0 0\n');
    kernelTree([10, 10], [3 * 1024 * 1024, 1024 * 1024]); // 4 GiB resident of 16 GiB in use
    const ledger = makeLedger(smi.path);
    await ledger.load();
    setGpus([0, 0, 0, 0]);
    const run = ledger.openRun(req({ pid: 100, pue: 1.5, env: { CUDA_VISIBLE_DEVICES: '0,1' } }));
    // The machine was busy 200 ticks; the tree used 50 of them (a GPU-bound kernel: little CPU).
    writeProc('stat', 'cpu  1100 0 100 9000 0 0 0 0 0 0\n');
    kernelTree([40, 30], [3 * 1024 * 1024, 1024 * 1024]);
    machine.cpu.energyJ = 80;
    machine.ram.energyJ = 10;
    setGpus([200, 300, 999, 999]);
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.gpuIds).toEqual([0, 1]);
    expect(closed.energy.gpu.energyJ).toBe(500);
    const a = closed.attribution!;
    expect(a.components!.cpu).toMatchObject({ basis: 'cpu-time', share: 0.25, energyJ: 20 });
    expect(a.components!.gpu).toMatchObject({ basis: 'gpu-memory', share: 0.4, energyJ: 200 });
    expect(a.components!.gpu.detail).toMatch(/^GPU 0: 40000 of 40000 MiB, GPU 1: 0 of 70000 MiB \(compute-app memory/);
    expect(a.components!.ram).toMatchObject({ basis: 'resident-memory', share: 0.25, energyJ: 2.5 });
    expect(a.components!.ram.detail).toBe('RSS 4.00 GiB of 16.00 GiB in use');
    // CPU time alone gave 0.25 × 590 J = 147.5 J; by component it is 222.5 J, 333.75 J after PUE.
    expect(a.energyJ).toBeCloseTo(222.5, 10);
    expect(a.facilityEnergyJ).toBeCloseTo(222.5 * 1.5, 10);
    expect(closed.energyScope).toBe('machine');
  });

  it('the only CPU-busy kernel no longer gets every GPU: no compute process on them, no GPU share', async () => {
    const smi = makeFakeNvidiaSmi(tmp);
    smi.setApps([{ pid: 555, gpuUuid: UUID[2]!, usedMemoryMiB: 1000 }]);
    writeProc('stat', 'cpu  1000 0 0 5000 0 0 0 0 0 0\n');
    kernelTree([10, 10], [1024, 1024]);
    const ledger = makeLedger(smi.path);
    await ledger.load();
    setGpus([0, 0, 0, 0]);
    const run = ledger.openRun(req({ pid: 100 }));
    writeProc('stat', 'cpu  1100 0 0 9000 0 0 0 0 0 0\n');
    kernelTree([60, 60], [1024, 1024]); // every busy tick is the kernel's
    machine.cpu.energyJ = 50;
    setGpus([100, 100, 100, 100]);
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.attribution!.components!.cpu).toMatchObject({ share: 1, energyJ: 50 });
    expect(closed.attribution!.components!.gpu).toMatchObject({ basis: 'gpu-memory', share: 0, energyJ: 0 });
  });

  it('says the GPU share is unavailable when the driver cannot be asked', async () => {
    writeProc('stat', 'cpu  1000 0 0 5000 0 0 0 0 0 0\n');
    kernelTree([10, 10], [1024, 1024]);
    const ledger = makeLedger(path.join(tmp, 'no-nvidia-smi'));
    await ledger.load();
    setGpus([0, 0]);
    const run = ledger.openRun(req({ pid: 100 }));
    setGpus([10, 10]);
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.attribution!.components!.gpu.basis).toBe('unavailable');
    expect(closed.attribution!.components!.gpu.detail).toMatch(
      /^GPU processes unknown: .*no-nvidia-smi --query-compute-apps/,
    );
  });
});

describe('GPU scope of a kernel', () => {
  it('CUDA_VISIBLE_DEVICES=<UUID> counts that GPU only (it used to count all of them)', async () => {
    const ledger = makeLedger(path.join(tmp, 'no-nvidia-smi'));
    await ledger.load();
    setGpus([0, 0, 0, 0]);
    const run = ledger.openRun(req({ env: { CUDA_VISIBLE_DEVICES: UUID[2]! } }));
    setGpus([100, 100, 70, 100]);
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.gpuIds).toEqual([2]);
    expect(closed.energy.gpu).toMatchObject({ energyJ: 70, scope: 'GPU 2' });
  });

  it('a MIG slice counts its parent GPU and says the slice is not separable', async () => {
    const ledger = makeLedger(path.join(tmp, 'no-nvidia-smi'), [
      { index: 0, uuid: UUID[0]!, name: 'NVIDIA H200', migUuids: ['MIG-0a0a-0001'] },
    ]);
    await ledger.load();
    setGpus([0]);
    const run = ledger.openRun(req({ env: { CUDA_VISIBLE_DEVICES: 'MIG-0a0a-0001' } }));
    setGpus([42]);
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.energy.gpu).toMatchObject({ energyJ: 42, scope: 'GPU 0: whole GPU (MIG slice not separable)' });
  });
});
