import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emissionsG, resolveLocation } from '../carbon/index.js';
import { Meter } from '../power/meter.js';
import type { PowerSource, SourceReading } from '../power/source.js';
import { RunStore } from '../store/run-store.js';
import { Ledger } from './ledger.js';
import { processStartTicks, RunReaper } from './reaper.js';

/** A constant 10 W CPU: the hardware boundary, the only fake here. */
function constantCpu(): PowerSource {
  const t0 = performance.now();
  return {
    id: 'test-cpu',
    component: 'cpu',
    method: 'tdp-load',
    measured: false,
    probe: async () => ({ available: true }),
    start: async () => {},
    stop: async () => {},
    devices: () => [],
    read: (): SourceReading => {
      const monoMs = performance.now();
      return { monoMs, energyJ: ((monoMs - t0) / 1000) * 10, powerW: 10, devices: [] };
    },
  };
}

let dir: string;
let ledger: Ledger;
let store: RunStore;
const children: ChildProcess[] = [];

function kernelLike(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise(resolve =>
    child.exitCode !== null || child.signalCode ? resolve() : child.once('exit', () => resolve()),
  );
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-reaper-'));
  store = new RunStore({ dataDir: dir });
  ledger = new Ledger({
    store,
    meter: new Meter([constantCpu()]),
    carbon: { resolveLocation, emissionsG },
    scope: { kind: 'machine', detail: 'test' },
    procRoot: '/proc',
    defaults: { pue: 1, typeRam: 'DDR4' },
  });
  await ledger.load();
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('processStartTicks', () => {
  it('reads the start time of a live process and null for a missing pid', () => {
    expect(processStartTicks('/proc', process.pid)).toMatch(/^\d+$/);
    expect(processStartTicks('/proc', 2 ** 30)).toBeNull();
  });

  it('parses a command name holding spaces and parentheses', () => {
    const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-proc-'));
    fs.mkdirSync(path.join(proc, '42'));
    const fields = ['S', ...Array.from({ length: 18 }, (_, i) => String(i)), '987654', '0'];
    fs.writeFileSync(path.join(proc, '42', 'stat'), `42 (a b) (c) ${fields.join(' ')}\n`);
    expect(processStartTicks(proc, 42)).toBe('987654');
    fs.writeFileSync(path.join(proc, '42', 'stat'), `42 (zombie) Z ${fields.slice(1).join(' ')}\n`);
    expect(processStartTicks(proc, 42)).toBeNull();
    fs.rmSync(proc, { recursive: true, force: true });
  });
});

describe('RunReaper', () => {
  it('closes the run of a killed kernel as interrupted and leaves live ones open', async () => {
    const reaper = new RunReaper(ledger).start();
    const doomed = kernelLike();
    const alive = kernelLike();
    const runDoomed = ledger.openRun({ kind: 'cell', typeProcess: 'training', pid: doomed.pid });
    const runAlive = ledger.openRun({ kind: 'cell', typeProcess: 'training', pid: alive.pid });
    const noPid = ledger.openRun({ kind: 'manual', typeProcess: 'training' });
    doomed.kill('SIGKILL');
    await exited(doomed);

    expect(await reaper.sweep()).toEqual([runDoomed.id]);
    reaper.stop();

    const closed = ledger.get(runDoomed.id)!;
    expect(closed.status).toBe('interrupted');
    expect(closed.error).toBe(`the kernel process (pid ${doomed.pid}) exited before the run closed`);
    expect(closed.endedAt).not.toBeNull();
    expect(ledger.get(runAlive.id)!.status).toBe('open');
    expect(ledger.get(noPid.id)!.status).toBe('open');
    // Stored durably: a fresh store sees the interrupted run.
    const again = new RunStore({ dataDir: dir }).open().find(r => r.id === runDoomed.id);
    expect(again?.status).toBe('interrupted');
  });

  it('never reaps a pid it never saw alive (a kernel in another pid namespace)', async () => {
    const reaper = new RunReaper(ledger);
    const run = ledger.openRun({ kind: 'cell', typeProcess: 'training', pid: 2 ** 30 });
    expect(await reaper.sweep()).toEqual([]);
    expect(await reaper.sweep()).toEqual([]);
    expect(ledger.get(run.id)!.status).toBe('open');
  });

  it('reaps a run whose pid now belongs to another process (pid reuse)', async () => {
    const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-proc-'));
    const statOf = (start: string) => `7 (python) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${start} 0\n`;
    fs.mkdirSync(path.join(proc, '7'));
    fs.writeFileSync(path.join(proc, '7', 'stat'), statOf('100'));
    const reaper = new RunReaper(ledger, { procRoot: proc });
    const run = ledger.openRun({ kind: 'cell', typeProcess: 'training', pid: 7 });
    expect(await reaper.sweep()).toEqual([]);
    fs.writeFileSync(path.join(proc, '7', 'stat'), statOf('200'));
    expect(await reaper.sweep()).toEqual([run.id]);
    fs.rmSync(proc, { recursive: true, force: true });
  });

  it('closes a run open longer than the maximum age, with or without a pid, and leaves younger ones', async () => {
    const reaper = new RunReaper(ledger, { maxRunAgeS: 60 });
    const old = ledger.openRun({ kind: 'manual', typeProcess: 'training' });
    const young = ledger.openRun({ kind: 'manual', typeProcess: 'training' });
    ledger.get(old.id)!.startedAt = new Date(Date.now() - 61_000).toISOString();
    // The reaper's list is cached while no run opens or closes: open one so it is rebuilt.
    ledger.openRun({ kind: 'manual', typeProcess: 'training' });
    expect(await reaper.sweep()).toEqual([old.id]);
    expect(ledger.get(old.id)).toMatchObject({
      status: 'interrupted',
      error: 'the run was open longer than the maximum age (60 s, --max-run-age)',
    });
    expect(ledger.get(young.id)!.status).toBe('open');
  });

  it('catches a kernel killed before the first sweep when started on the ledger', async () => {
    const reaper = new RunReaper(ledger, { intervalMs: 50 }).start();
    const doomed = kernelLike();
    const run = ledger.openRun({ kind: 'cell', typeProcess: 'training', pid: doomed.pid });
    doomed.kill('SIGKILL');
    await exited(doomed);
    const deadline = Date.now() + 5000;
    while (ledger.get(run.id)!.status === 'open' && Date.now() < deadline) await new Promise(r => setTimeout(r, 20));
    reaper.stop();
    expect(ledger.get(run.id)!.status).toBe('interrupted');
  });
});
