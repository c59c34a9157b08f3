import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { scriptedMachine } from '../../test-support/scripted-source.js';
import { type OpenRunRequest, OpenRunRequestSchema, type Run } from '../api/schemas.js';
import { emissionsG, resolveLocation } from '../carbon/index.js';
import { Meter } from '../power/meter.js';
import { OpenRunCheckpoints } from '../store/open-run-checkpoints.js';
import { RunStore } from '../store/run-store.js';
import { Ledger, LedgerError } from './ledger.js';

let tmp: string;
let machine: ReturnType<typeof scriptedMachine>;
let store: RunStore;
let ledger: Ledger;
let procRoot: string;

function makeLedger(dataDir = path.join(tmp, 'data')) {
  store = new RunStore({ dataDir });
  const meter = new Meter([machine.cpu, machine.gpu, machine.ram]);
  return new Ledger({
    store,
    meter,
    carbon: { resolveLocation, emissionsG },
    scope: { kind: 'machine', detail: 'test machine' },
    procRoot,
    defaults: { pue: 1, typeRam: 'DDR4' },
    checkpoints: new OpenRunCheckpoints({ dataDir }),
  });
}

const open = (req: Partial<OpenRunRequest> = {}) => ledger.openRun(OpenRunRequestSchema.parse(req));

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-ledger-'));
  procRoot = path.join(tmp, 'proc');
  machine = scriptedMachine();
  ledger = makeLedger();
  await ledger.load();
});
afterEach(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Ledger runs', () => {
  it('reads every counter when a run opens and closes, not a periodic sample', async () => {
    machine.cpu.energyJ = 100;
    machine.gpu.energyJ = 1000;
    machine.ram.energyJ = 10;
    const run = open({ kind: 'cell', country: 'ESP', pue: 1.5 });
    expect(machine.cpu.reads).toBe(1);
    machine.cpu.energyJ = 130;
    machine.gpu.energyJ = 1200;
    machine.ram.energyJ = 12;
    const { run: closed, alreadyClosed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(alreadyClosed).toBe(false);
    expect(machine.cpu.reads).toBe(2);
    expect(closed.status).toBe('ok');
    expect(closed.energy.cpu).toMatchObject({ energyJ: 30, method: 'rapl', measured: true, included: true });
    expect(closed.energy.gpu).toMatchObject({ energyJ: 200, method: 'nvml', measured: true, included: true });
    expect(closed.energy.ram).toMatchObject({ energyJ: 2, method: 'ram-model', measured: false, included: true });
    expect(closed.energyJ).toBe(232);
    expect(closed.facilityEnergyJ).toBe(348);
    expect(closed.emissionsG).toBeCloseTo((348 / 3.6e6) * closed.location.intensityGPerKWh, 12);
    expect(closed.location.countryIso3).toBe('ESP');
    expect(closed.quality).toBe('mixed');
    expect(closed.endedAt).not.toBeNull();
    expect(closed.checkpointAt).toBeNull();
  });

  it('leaves excluded components out of the totals and marks them excluded', async () => {
    const run = open({ components: ['cpu'] });
    machine.cpu.energyJ = 5;
    machine.gpu.energyJ = 50;
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.energy.gpu).toMatchObject({ energyJ: 0, included: false });
    expect(closed.energyJ).toBe(5);
    expect(closed.quality).toBe('measured');
  });

  it('counts only the GPUs a run asked for', async () => {
    machine.gpu.devices_ = [
      { deviceId: '0', energyJ: 0, powerW: null },
      { deviceId: '1', energyJ: 0, powerW: null },
    ];
    const run = open({ gpuIds: [1] });
    machine.gpu.devices_ = [
      { deviceId: '0', energyJ: 70, powerW: null },
      { deviceId: '1', energyJ: 30, powerW: null },
    ];
    machine.gpu.energyJ = 100;
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.energy.gpu.energyJ).toBe(30);
  });

  it('keeps several runs open at once, each with the machine energy of its own window', async () => {
    const a = open({ kernelId: 'k1' });
    machine.cpu.energyJ = 10;
    const b = open({ kernelId: 'k2' });
    machine.cpu.energyJ = 25;
    expect(ledger.openCount).toBe(2);
    const closedA = (await ledger.closeRun(a.id, { status: 'ok' })).run;
    machine.cpu.energyJ = 40;
    const closedB = (await ledger.closeRun(b.id, { status: 'error', error: 'ZeroDivisionError' })).run;
    expect(closedA.energy.cpu.energyJ).toBe(25);
    expect(closedB.energy.cpu.energyJ).toBe(30);
    expect(closedB.status).toBe('error');
    expect(closedB.error).toBe('ZeroDivisionError');
    expect(ledger.list({ kernelId: 'k2' }).map(r => r.id)).toEqual([b.id]);
  });

  it('closing twice is harmless: the same run, unchanged', async () => {
    const run = open();
    machine.cpu.energyJ = 7;
    const first = await ledger.closeRun(run.id, { status: 'ok' });
    machine.cpu.energyJ = 700;
    const second = await ledger.closeRun(run.id, { status: 'error' });
    expect(second.alreadyClosed).toBe(true);
    expect(second.run.status).toBe('ok');
    expect(second.run.energy.cpu.energyJ).toBe(7);
    expect(second.run).toBe(first.run);
  });

  it('answers unknown runs with not_found and closed runs with conflict', async () => {
    expect(() => ledger.get('nope')).not.toThrow();
    await expect(ledger.closeRun('nope', { status: 'ok' })).rejects.toThrow(
      new LedgerError('not_found', 'run nope not found'),
    );
    const run = open();
    await ledger.closeRun(run.id, { status: 'ok' });
    expect(() => ledger.countBatches(run.id, { n: 1 })).toThrow(
      `cannot count batches of run ${run.id}: it is ok, not open`,
    );
    expect(() => ledger.openEpoch(run.id, {})).toThrow(`cannot open an epoch in run ${run.id}: it is ok, not open`);
  });

  it('gives open runs live figures on get and list', () => {
    const run = open();
    machine.cpu.energyJ = 12;
    expect(ledger.get(run.id)!.energy.cpu.energyJ).toBe(12);
    machine.cpu.energyJ = 15;
    expect(ledger.list()[0]!.energy.cpu.energyJ).toBe(15);
  });

  it('lists newest first with filters and a limit', async () => {
    const a = open({ notebookPath: 'a.ipynb', typeProcess: 'inference' });
    const b = open({ notebookPath: 'b.ipynb' });
    const c = open({ notebookPath: 'a.ipynb' });
    await ledger.closeRun(c.id, { status: 'ok' });
    expect(ledger.list().map(r => r.id)).toEqual([c.id, b.id, a.id]);
    expect(ledger.list({ notebookPath: 'a.ipynb' }).map(r => r.id)).toEqual([c.id, a.id]);
    expect(ledger.list({ status: 'open' }).map(r => r.id)).toEqual([b.id, a.id]);
    expect(ledger.list({ typeProcess: 'inference' }).map(r => r.id)).toEqual([a.id]);
    expect(ledger.list({ runIds: [a.id, c.id] }).map(r => r.id)).toEqual([c.id, a.id]);
    expect(ledger.list({ limit: 1 }).map(r => r.id)).toEqual([c.id]);
  });

  it('derives the model size bucket from the parameter count', async () => {
    const small = open({ model: { framework: 'torch', nParameters: 99_999_999, nFeatures: 3 } });
    const medium = open({ model: { framework: 'torch', nParameters: 100_000_000, nFeatures: 3 } });
    const large = open({ model: { framework: 'torch', nParameters: 1_000_000_000, nFeatures: 3 } });
    expect([small, medium, large].map(r => r.model.sizeBucket)).toEqual(['small', 'medium', 'large']);
    const patched = ledger.patch(small.id, { model: { framework: 'keras', nParameters: 2e9, nFeatures: [3, 4] } });
    expect(patched.model).toEqual({
      framework: 'keras',
      nParameters: 2e9,
      nFeatures: [3, 4],
      sizeBucket: 'large',
      name: null,
    });
  });
});

describe('Ledger epochs and batches', () => {
  it('measures each epoch as a window inside its run and counts batches', async () => {
    const run = open({ typeProcess: 'training' });
    machine.cpu.energyJ = 10;
    const e0 = ledger.openEpoch(run.id, {});
    expect(e0.index).toBe(0);
    ledger.countBatches(run.id, { n: 3 });
    machine.cpu.energyJ = 40;
    const closed0 = ledger.closeEpoch(run.id, 0, {});
    expect(closed0).toMatchObject({ index: 0, status: 'ok', nBatch: 3, energyJ: 30 });
    const e1 = ledger.openEpoch(run.id, {});
    expect(e1.index).toBe(1);
    ledger.countBatches(run.id, { n: 2 });
    machine.cpu.energyJ = 45;
    ledger.closeEpoch(run.id, 1, { nBatch: 9 });
    // Closing an epoch twice is harmless.
    expect(ledger.closeEpoch(run.id, 1, {}).energyJ).toBe(5);
    machine.cpu.energyJ = 50;
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.epochs.map(e => [e.index, e.energyJ, e.nBatch])).toEqual([
      [0, 30, 3],
      [1, 5, 9],
    ]);
    expect(closed.nEpoch).toBe(2);
    expect(closed.batchesCounted).toBe(5);
    expect(closed.nBatch).toBe(5);
    expect(closed.energyJ).toBe(50);
  });

  it('ends an epoch left open when the next opens, and refuses a duplicate index', () => {
    const run = open();
    ledger.openEpoch(run.id, { index: 4 });
    machine.cpu.energyJ = 8;
    ledger.openEpoch(run.id, {});
    const r = ledger.get(run.id)!;
    expect(r.epochs.map(e => [e.index, e.status, e.energyJ])).toEqual([
      [4, 'ok', 8],
      [5, 'open', 0],
    ]);
    expect(() => ledger.openEpoch(run.id, { index: 4 })).toThrow(`epoch 4 already exists in run ${run.id}`);
    expect(() => ledger.closeEpoch(run.id, 99, {})).toThrow(`epoch 99 not found in run ${run.id}`);
  });
});

describe('Ledger durability', () => {
  it('brings closed runs back intact and open ones back interrupted at their last checkpoint', async () => {
    const closedRun = open({ label: 'done' });
    machine.cpu.energyJ = 20;
    await ledger.closeRun(closedRun.id, { status: 'ok' });
    const openRun = open({ label: 'crashed' });
    ledger.openEpoch(openRun.id, {});
    machine.cpu.energyJ = 50;
    ledger.checkpoint();
    const checkpointAt = ledger.get(openRun.id)!.checkpointAt;
    machine.cpu.energyJ = 90; // after the checkpoint: lost with the crash
    // "kill -9": no close, no flush; a new ledger reads the same data dir.
    const before = store;
    ledger = makeLedger();
    expect(await ledger.load()).toBe(1);
    before.close();
    const back = ledger.get(openRun.id)!;
    expect(back.status).toBe('interrupted');
    expect(back.energy.cpu.energyJ).toBe(30);
    expect(back.endedAt).toBe(checkpointAt);
    expect(back.epochs[0]!.status).toBe('interrupted');
    expect(back.error).toMatch(/last checkpoint/);
    const done = ledger.get(closedRun.id)!;
    expect(done).toMatchObject({ status: 'ok', label: 'done' });
    expect(done.energy.cpu.energyJ).toBe(20);
    // Closing the interrupted run later is harmless.
    expect((await ledger.closeRun(openRun.id, { status: 'ok' })).run.status).toBe('interrupted');
  });

  it('a run whose first write fails (disk full) is refused and never stored, not even by a checkpoint', async () => {
    const events: string[] = [];
    ledger.onEvent(event => events.push(event));
    // The store's write(2) fails as it does on a full disk (the real case: test/faults/disk.test.ts).
    const put = vi.spyOn(store, 'put').mockImplementationOnce(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    expect(() => open({ label: 'refused' })).toThrow(/^ENOSPC: no space left on device, write$/);
    put.mockRestore();
    expect([ledger.openCount, ledger.list(), events]).toEqual([0, [], []]);
    const kept = open({ label: 'after space came back' });
    ledger.checkpoint();
    const before = store;
    ledger = makeLedger();
    await ledger.load();
    before.close();
    expect(ledger.list().map(r => r.label)).toEqual(['after space came back']);
    expect(ledger.get(kept.id)!.status).toBe('interrupted');
  });
});

describe('Ledger writes before it changes (disk full)', () => {
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

  it('a close whose write fails leaves the run open; a retry closes it and the close is stored', async () => {
    const run = open({ label: 'full disk' });
    machine.cpu.energyJ = 40;
    const put = vi.spyOn(store, 'put').mockImplementationOnce(() => {
      throw enospc();
    });
    await expect(ledger.closeRun(run.id, { status: 'ok' })).rejects.toThrow(/^ENOSPC/);
    put.mockRestore();
    expect([ledger.get(run.id)!.status, ledger.get(run.id)!.endedAt, ledger.openCount]).toEqual(['open', null, 1]);
    machine.cpu.energyJ = 50;
    const retry = await ledger.closeRun(run.id, { status: 'ok' });
    expect([retry.alreadyClosed, retry.run.status, retry.run.energy.cpu.energyJ]).toEqual([false, 'ok', 50]);
    const before = store;
    ledger = makeLedger();
    await ledger.load();
    before.close();
    expect(ledger.get(run.id)).toMatchObject({ status: 'ok', energyJ: 50 });
  });

  it('an epoch open or close whose write fails changes nothing', () => {
    const run = open();
    const put = vi.spyOn(store, 'put').mockImplementationOnce(() => {
      throw enospc();
    });
    expect(() => ledger.openEpoch(run.id, {})).toThrow(/^ENOSPC/);
    expect(ledger.get(run.id)!.epochs).toEqual([]);
    ledger.openEpoch(run.id, {});
    put.mockImplementationOnce(() => {
      throw enospc();
    });
    expect(() => ledger.closeEpoch(run.id, 0, {})).toThrow(/^ENOSPC/);
    expect(ledger.get(run.id)!.epochs.map(e => e.status)).toEqual(['open']);
    put.mockRestore();
    expect(ledger.closeEpoch(run.id, 0, {}).status).toBe('ok');
  });

  it('a patch of a closed run whose write fails keeps the old values', async () => {
    const run = open({ label: 'before' });
    await ledger.closeRun(run.id, { status: 'ok' });
    vi.spyOn(store, 'put').mockImplementationOnce(() => {
      throw enospc();
    });
    expect(() => ledger.patch(run.id, { label: 'after' })).toThrow(/^ENOSPC/);
    expect(ledger.get(run.id)!.label).toBe('before');
  });
});

describe('Ledger limits', () => {
  it('refuses a run past the per-kernel and the total cap with too_many_open_runs and a retry delay', async () => {
    store.close();
    const dataDir = path.join(tmp, 'limits');
    store = new RunStore({ dataDir });
    ledger = new Ledger({
      store,
      meter: new Meter([machine.cpu]),
      carbon: { resolveLocation, emissionsG },
      scope: { kind: 'machine', detail: 'test machine' },
      procRoot,
      defaults: { pue: 1, typeRam: 'DDR4' },
      limits: { maxOpenRuns: 3, maxOpenRunsPerKernel: 2 },
    });
    await ledger.load();
    const a1 = open({ kernelId: 'a' });
    open({ kernelId: 'a' });
    const refused = (() => {
      try {
        open({ kernelId: 'a' });
      } catch (err) {
        return err as LedgerError;
      }
    })();
    expect(refused).toBeInstanceOf(LedgerError);
    expect([refused!.code, refused!.message, refused!.retryAfterS]).toEqual([
      'too_many_open_runs',
      'this kernel has 2 runs open, the most one kernel may (--max-open-runs-per-kernel); close some first',
      5,
    ]);
    open({ kernelId: 'b' });
    expect(() => open({ kernelId: 'c' })).toThrow(
      '3 runs are open, the most this sidecar keeps (--max-open-runs 3); close some first',
    );
    await ledger.closeRun(a1.id, { status: 'ok' });
    expect(open({ kernelId: 'a' }).status).toBe('open'); // a close frees a place
  });
});

describe('Ledger checkpoints', () => {
  it('write one meter reading whatever the number of open runs, not every run again', () => {
    for (let i = 0; i < 200; i++) open({ label: `run ${i}` });
    const dataDir = path.join(tmp, 'data');
    const size = (name: string) => fs.statSync(path.join(dataDir, name)).size;
    const runsBefore = size('runs.journal');
    const checkpointsBefore = size('checkpoints.journal');
    machine.cpu.energyJ = 10;
    ledger.checkpoint();
    machine.cpu.energyJ = 20;
    ledger.checkpoint();
    expect(size('runs.journal')).toBe(runsBefore);
    const written = size('checkpoints.journal') - checkpointsBefore;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(2 * 1000); // two lines of one reading, not 200 runs
  });

  it('a run whose kernel still runs continues after a crash: energy before and after, the gap named', async () => {
    fs.mkdirSync(path.join(procRoot, '4242'), { recursive: true });
    fs.writeFileSync(path.join(procRoot, 'stat'), 'cpu  1000 0 0 5000 0 0 0 0 0 0\n');
    fs.writeFileSync(
      path.join(procRoot, '4242', 'stat'),
      '4242 (python3) S 1 0 0 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 777 0 0\n',
    );
    const run = open({ pid: 4242, label: 'spans a crash' });
    machine.cpu.energyJ = 30;
    ledger.checkpoint();
    machine.cpu.energyJ = 45; // after the last checkpoint: not measured
    const before = store;
    ledger = makeLedger(); // kill -9 and restart: nothing written in between
    expect(await ledger.load()).toBe(0);
    before.close();
    const resumed = ledger.get(run.id)!;
    expect(resumed.status).toBe('open');
    expect(resumed.energy.cpu.energyJ).toBe(30);
    expect(resumed.sidecarRestarts?.count).toBe(1);
    machine.cpu.energyJ = 65;
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect([closed.status, closed.energy.cpu.energyJ, closed.sidecarRestarts?.count]).toEqual(['ok', 50, 1]);
    expect(closed.sidecarRestarts!.unmeasuredS).toBeGreaterThanOrEqual(0);
    expect(closed.durationS).toBeGreaterThanOrEqual(closed.sidecarRestarts!.unmeasuredS);
  });

  it('a run whose pid now belongs to another process is interrupted, not continued', async () => {
    fs.mkdirSync(path.join(procRoot, '4243'), { recursive: true });
    const statOf = (start: number) => `4243 (python3) S 1 0 0 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 ${start} 0 0\n`;
    fs.writeFileSync(path.join(procRoot, '4243', 'stat'), statOf(777));
    const run = open({ pid: 4243 });
    machine.cpu.energyJ = 30;
    ledger.checkpoint();
    fs.writeFileSync(path.join(procRoot, '4243', 'stat'), statOf(999)); // the pid was reused
    const before = store;
    ledger = makeLedger();
    expect(await ledger.load()).toBe(1);
    before.close();
    expect(ledger.get(run.id)).toMatchObject({ status: 'interrupted', energyJ: 30 });
  });
});

describe('Ledger attribution', () => {
  function writeProc(rel: string, content: string) {
    const p = path.join(procRoot, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  // /proc/<pid>/stat: utime, stime, cutime, cstime are fields 14..17.
  const stat = (pid: number, ppid: number, ticks: [number, number, number, number]) =>
    `${pid} (python3 (kernel)) S ${ppid} 0 0 0 -1 0 0 0 0 0 ${ticks.join(' ')} 20 0 1 0 100 0 0\n`;

  it('attributes the share of busy CPU time used by the kernel process tree, labelled as such', async () => {
    writeProc('stat', 'cpu  1000 0 0 5000 0 0 0 0 0 0\n');
    writeProc('100/stat', stat(100, 1, [10, 0, 0, 0]));
    writeProc('100/task/100/children', '101 ');
    writeProc('101/stat', stat(101, 100, [5, 5, 0, 0]));
    writeProc('101/task/101/children', '');
    const run = open({ pid: 100 });
    expect(run.attribution).toEqual({ method: 'per-component', share: 0, energyJ: 0, facilityEnergyJ: 0 });
    // The machine was busy 200 ticks; the tree used 50 of them.
    writeProc('stat', 'cpu  1100 0 100 9000 0 0 0 0 0 0\n');
    writeProc('100/stat', stat(100, 1, [30, 10, 0, 0]));
    writeProc('101/stat', stat(101, 100, [15, 15, 0, 0]));
    machine.cpu.energyJ = 80;
    const { run: closed } = await ledger.closeRun(run.id, { status: 'ok' });
    expect(closed.attribution).toMatchObject({
      method: 'per-component',
      share: 0.25,
      energyJ: 20,
      facilityEnergyJ: 20,
    });
    expect(closed.attribution!.components!.cpu).toEqual({
      basis: 'cpu-time',
      share: 0.25,
      energyJ: 20,
      detail: '50 of 200 busy CPU ticks',
    });
  });

  it('has no attribution when the run gave no pid', async () => {
    const run = open();
    expect((await ledger.closeRun(run.id, { status: 'ok' })).run.attribution).toBeNull();
  });
});

describe('Ledger events', () => {
  it('emits opened, epoch, updated and closed (an epoch still open ends with its run)', async () => {
    const events: string[] = [];
    ledger.onEvent((e: string, r: Run) => events.push(`${e}:${r.status}`));
    const run = open();
    ledger.openEpoch(run.id, {});
    ledger.patch(run.id, { label: 'x' });
    await ledger.closeRun(run.id, { status: 'ok' });
    expect(events).toEqual(['opened:open', 'epoch:open', 'updated:open', 'closed:ok']);
    expect(ledger.get(run.id)!.epochs[0]!.status).toBe('ok');
  });
});
