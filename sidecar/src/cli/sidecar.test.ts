/**
 * `pnav sidecar` as a real process (the built CLI): discovery, one instance per runtime dir,
 * clean stop, and `kill -9` recovery of the store. Power comes from a fake powercap tree.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../../test-support/built-cli.js';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import type { Run } from '../api/schemas.js';
import type { RuntimeInfo } from '../server/runtime-file.js';

let fake: FakeRoot;
const children: ChildProcess[] = [];

interface Started {
  child: ChildProcess;
  stdout: () => string;
  exit: Promise<number | null>;
}

function start(args: string[]): Started {
  const child = spawn(process.execPath, [CLI, 'sidecar', '--sysfs-root', fake.sysfsRoot, ...args], {
    env: { ...process.env, PNAV_COUNTRY: 'ESP' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', () => {});
  const exit = new Promise<number | null>(r => child.once('exit', code => r(code)));
  return { child, stdout: () => out, exit };
}

async function waitFor<T>(
  what: string,
  fn: () => T | null | undefined | Promise<T | null | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

function readRuntime(runtimeDir: string, notPid?: number): RuntimeInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(runtimeDir, 'pnav-sidecar.json'), 'utf8')) as RuntimeInfo;
    return info.pid === notPid ? null : info;
  } catch {
    return null;
  }
}

async function call(info: RuntimeInfo, method: string, url: string, body?: unknown) {
  const res = await fetch(`${info.url}${url}`, {
    method,
    headers: { Authorization: `Bearer ${info.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(() => {
  ensureBuilt();
  fake = new FakeRoot();
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 5_000_000 });
}, 120_000);
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => fake.cleanup());

describe('pnav sidecar', () => {
  it('writes a 0600 runtime file, defers a second instance, and removes the file on SIGTERM', async () => {
    const runtimeDir = fake.path('rt1');
    const a = start(['--runtime-dir', runtimeDir, '--data-dir', fake.path('data1')]);
    const info = await waitFor('runtime file', () => readRuntime(runtimeDir));
    expect(info).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), pid: a.child.pid });
    expect(info.token).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(path.join(runtimeDir, 'pnav-sidecar.json')).mode & 0o777).toBe(0o600);
    // The runtime file is written just before the line is printed: wait for the line, do not race it.
    await waitFor('the listening line', () => a.stdout().includes(`listening on ${info.url}`));
    expect(a.stdout()).not.toContain(info.token);
    expect((await call(info, 'GET', '/healthz')).body).toEqual({ ok: true, version: info.version });

    const b = start(['--runtime-dir', runtimeDir, '--data-dir', fake.path('data1b')]);
    expect(await b.exit).toBe(0);
    expect(b.stdout()).toBe(
      `pnav sidecar already running at ${info.url} (pid ${info.pid}, runtime file ${path.join(runtimeDir, 'pnav-sidecar.json')})\n`,
    );

    a.child.kill('SIGTERM');
    expect(await a.exit).toBe(0);
    expect(fs.existsSync(path.join(runtimeDir, 'pnav-sidecar.json'))).toBe(false);
  }, 60_000);

  it('lets exactly one of two sidecars started at once serve; the other points at it', async () => {
    const runtimeDir = fake.path('rt2');
    const a = start(['--runtime-dir', runtimeDir, '--data-dir', fake.path('data2a')]);
    const b = start(['--runtime-dir', runtimeDir, '--data-dir', fake.path('data2b')]);
    const deferred = await Promise.race([a.exit.then(() => a), b.exit.then(() => b)]);
    const winner = deferred === a ? b : a;
    expect(await deferred.exit).toBe(0);
    const info = await waitFor('runtime file', () => readRuntime(runtimeDir));
    expect(info.pid).toBe(winner.child.pid);
    expect(deferred.stdout()).toContain(`pnav sidecar already running at ${info.url} (pid ${info.pid}`);
    winner.child.kill('SIGTERM');
    expect(await winner.exit).toBe(0);
  }, 60_000);

  it('survives kill -9: closed runs intact, open runs interrupted at their last checkpoint', async () => {
    const runtimeDir = fake.path('rt3');
    const dataDir = fake.path('data3');
    const args = [
      '--runtime-dir',
      runtimeDir,
      '--data-dir',
      dataDir,
      '--sample-interval',
      '50',
      '--checkpoint-interval',
      '100',
    ];
    const a = start(args);
    const info = await waitFor('runtime file', () => readRuntime(runtimeDir));

    fake.setEnergy('intel-rapl:0', 10_000_000);
    const done = (await call(info, 'POST', '/api/v1/runs', { kind: 'cell', label: 'finished' })).body.run as Run;
    fake.setEnergy('intel-rapl:0', 13_000_000);
    const closed = (await call(info, 'POST', `/api/v1/runs/${done.id}/close`, { status: 'ok' })).body.run as Run;
    expect(closed.energy.cpu.energyJ).toBe(3);

    const open = (await call(info, 'POST', '/api/v1/runs', { kind: 'cell', label: 'crashed' })).body.run as Run;
    fake.setEnergy('intel-rapl:0', 20_000_000);
    const setAt = new Date().toISOString();
    // Wait until a checkpoint after the +7 J (it stores one meter reading for all open runs).
    let checkpointed = false;
    while (!checkpointed) {
      const run = (await call(info, 'GET', `/api/v1/runs/${open.id}`)).body.run as Run;
      checkpointed = run.checkpointAt !== null && run.checkpointAt > setAt;
      if (!checkpointed) await new Promise(r => setTimeout(r, 20));
    }
    a.child.kill('SIGKILL');
    await a.exit;
    expect(readRuntime(runtimeDir)?.pid).toBe(a.child.pid); // stale file left behind

    const b = start(args);
    const infoB = await waitFor('new runtime file', () => readRuntime(runtimeDir, a.child.pid));
    expect(infoB.pid).toBe(b.child.pid);
    const back = (await call(infoB, 'GET', `/api/v1/runs/${done.id}`)).body.run as Run;
    expect(back).toEqual(closed);
    const interrupted = (await call(infoB, 'GET', `/api/v1/runs/${open.id}`)).body.run as Run;
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.energy.cpu.energyJ).toBe(7);
    expect(interrupted.endedAt).toBe(interrupted.checkpointAt);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, 'runs.journal')).mode & 0o777).toBe(0o600);
    b.child.kill('SIGTERM');
    expect(await b.exit).toBe(0);
  }, 60_000);

  it('continues pnav_energy_joules_total across restarts, after SIGTERM and after kill -9 alike', async () => {
    const power = new FakeRoot();
    power.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000_000 });
    const runtimeDir = fake.path('rt5');
    const args = ['--runtime-dir', runtimeDir, '--data-dir', fake.path('data5'), '--sysfs-root', power.sysfsRoot];
    const timing = ['--sample-interval', '50', '--checkpoint-interval', '100'];
    const cpuJoules = async (info: RuntimeInfo): Promise<number> => {
      const res = await fetch(`${info.url}/metrics`, { headers: { Authorization: `Bearer ${info.token}` } });
      const line = (await res.text()).split('\n').find(l => l.startsWith('pnav_energy_joules_total{component="cpu"'));
      return Number(line?.split(' ').at(-1));
    };
    try {
      const a = start([...args, ...timing]);
      const infoA = await waitFor('runtime file', () => readRuntime(runtimeDir));
      power.setEnergy('intel-rapl:0', 6_000_000); // +5 J
      const seenA = await waitFor('5 J counted', async () => {
        const joules = await cpuJoules(infoA);
        return joules >= 5 ? joules : null;
      });
      expect(await cpuJoules(infoA)).toBeGreaterThanOrEqual(seenA);
      a.child.kill('SIGTERM');
      expect(await a.exit).toBe(0);

      const b = start([...args, ...timing]);
      const infoB = await waitFor('second runtime file', () => readRuntime(runtimeDir, a.child.pid));
      expect(await cpuJoules(infoB)).toBeGreaterThanOrEqual(seenA); // not back to 0
      power.setEnergy('intel-rapl:0', 9_000_000); // +3 J more
      const seenB = await waitFor('3 J more counted', async () => {
        const joules = await cpuJoules(infoB);
        return joules >= seenA + 3 ? joules : null;
      });
      b.child.kill('SIGKILL'); // right after a scrape: what it showed must come back
      await b.exit;

      const c = start(args);
      const infoC = await waitFor('third runtime file', () => readRuntime(runtimeDir, b.child.pid));
      expect(await cpuJoules(infoC)).toBeGreaterThanOrEqual(seenB);
      expect(fs.statSync(path.join(fake.path('data5'), 'energy.journal')).mode & 0o777).toBe(0o600);
      c.child.kill('SIGTERM');
      expect(await c.exit).toBe(0);
    } finally {
      power.cleanup();
    }
  }, 60_000);

  it('refuses a bad option with a message naming it', async () => {
    const a = start(['--runtime-dir', fake.path('rt4'), '--data-dir', fake.path('data4'), '--host', '0.0.0.0']);
    let err = '';
    a.child.stderr!.on('data', d => (err += d));
    expect(await a.exit).toBe(2);
    expect(err).toBe(
      'pnav sidecar: --host: must be a loopback address (127.0.0.1, localhost or ::1): the sidecar never listens on a network\n',
    );
  }, 30_000);

  /** Runs `pnav sidecar` on `dataDir` to its exit; returns the exit code and stdout + stderr. */
  async function runOn(dataDir: string, runtimeDir: string): Promise<{ code: number | null; out: string }> {
    const a = start(['--runtime-dir', runtimeDir, '--data-dir', dataDir, '--cpu-tdp', '85']);
    let err = '';
    a.child.stderr!.on('data', d => (err += d));
    const code = await a.exit;
    return { code, out: a.stdout() + err };
  }

  it('on a data dir it cannot create, says so in one line and exits 1', async () => {
    const dataDir = '/proc/pnav-no-such-dir/data'; // procfs: nobody, root included, can create it
    expect(await runOn(dataDir, fake.path('rt6'))).toEqual({
      code: 1,
      out: `pnav sidecar: cannot use data dir ${dataDir}: ENOENT: no such file or directory, mkdir '/proc/pnav-no-such-dir'\n`,
    });
    expect(readRuntime(fake.path('rt6'))).toBeNull();
  }, 30_000);

  it('on a read-only data dir (a real tmpfs mounted read-only), says so in one line and exits 1', async ctx => {
    const mountPoint = fake.path('ro-mount');
    fs.mkdirSync(mountPoint, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (err) {
      const why = `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root`;
      console.warn(`SKIPPED (not passed): ${why}: the read-only data dir is not exercised`);
      ctx.skip(why);
      return;
    }
    try {
      const dataDir = path.join(mountPoint, 'data');
      fs.mkdirSync(dataDir);
      execFileSync('mount', ['-o', 'remount,ro', mountPoint], { stdio: 'pipe' });
      expect(await runOn(dataDir, fake.path('rt7'))).toEqual({
        code: 1,
        out: `pnav sidecar: cannot use data dir ${dataDir}: EROFS: read-only file system, open '${dataDir}/sidecar.lock'\n`,
      });
      expect(readRuntime(fake.path('rt7'))).toBeNull();
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  }, 30_000);
});
