/**
 * Fast fault injection against real processes (the slow ones are in test/faults/):
 * a kernel killed mid-cell, the sidecar restarted under an open notebook, wall-clock jumps,
 * and two sidecars started at once on one runtime dir.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exitOf,
  ipythonCells,
  lines,
  listRuns,
  openRun,
  ROOT,
  readRuntime,
  request,
  type SidecarProcess,
  spawnCli,
  startSidecar,
  tmpDir,
  waitFor,
} from '../faults/support/sidecar-process.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function track(sc: SidecarProcess): SidecarProcess {
  cleanup.push(() => sc.stop());
  return sc;
}

function trackChild(child: ChildProcess): ChildProcess {
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Env for a kernel that finds the sidecar only through the runtime dir, as in Jupyter. */
function kernelEnv(runtimeDir: string): NodeJS.ProcessEnv {
  return {
    PNAV_RUNTIME_DIR: runtimeDir,
    PNAV_SIDECAR_URL: undefined,
    PNAV_SIDECAR_TOKEN: undefined,
    // Never let the kernel start a sidecar of its own here: the test decides which one runs.
    PNAV_SIDECAR_CMD: `${process.execPath} -e process.exit(3)`,
  };
}

describe('a kernel killed mid-cell', () => {
  it('closes its run as interrupted within seconds', async () => {
    const sc = track(await startSidecar());
    const kernel = trackChild(
      ipythonCells(
        ['%%pnav --quiet --no-save\nimport time\nprint("IN_CELL", flush=True)\ntime.sleep(600)'],
        kernelEnv(sc.runtimeDir),
      ),
    );
    const out = lines(kernel);
    await out.next('IN_CELL');
    const [run] = await listRuns(sc);
    expect(run!.status).toBe('open');
    expect(run!.pid).toBe(kernel.pid);

    kernel.kill('SIGKILL');
    await exitOf(kernel);
    const killedAt = Date.now();
    // Poll the API: the reaper (sidecar/src/ledger/reaper.ts) checks the kernel's pid every second.
    let final = (await request(sc, 'GET', `/api/v1/runs/${run!.id}`)).json.run;
    while (final.status === 'open' && Date.now() - killedAt < 10_000) {
      await new Promise(r => setTimeout(r, 100));
      final = (await request(sc, 'GET', `/api/v1/runs/${run!.id}`)).json.run;
    }
    const status = final.status;
    const tookS = (Date.now() - killedAt) / 1000;
    console.log(`run of the killed kernel closed as ${status} after ${tookS.toFixed(2)} s`);
    expect(status).toBe('interrupted');
    expect(tookS).toBeLessThan(10);
    expect(final.error).toMatch(/kernel process \(pid \d+\) exited/);
    expect(final.endedAt).not.toBeNull();
  });
});

describe('the sidecar restarted while a notebook is open', () => {
  it('the magic finds the new sidecar by itself: the next cell is measured, no warning', async () => {
    const dataDir = tmpDir('data');
    const runtimeDir = tmpDir('runtime');
    const first = await startSidecar({ dataDir, runtimeDir });
    const kernel = trackChild(
      ipythonCells(
        ['%%pnav --quiet --no-save\nx = 1', '<wait>', '%%pnav --quiet --no-save\nx = 2'],
        kernelEnv(runtimeDir),
      ),
    );
    const out = lines(kernel);
    expect(JSON.parse((await out.next('CELL ')).slice(5))).toEqual({ ok: true, warnings: [] });
    await out.next('WAITING');
    const before = await listRuns(first);
    expect(before).toHaveLength(1);
    expect(await first.stop()).toBe(0);

    const second = track(await startSidecar({ dataDir, runtimeDir }));
    expect(second.token).not.toBe(first.token);
    kernel.stdin!.write('\n');
    expect(JSON.parse((await out.next('CELL ')).slice(5))).toEqual({ ok: true, warnings: [] });
    const after = await listRuns(second);
    expect(after).toHaveLength(2);
    expect(after.map(r => r.status)).toEqual(['ok', 'ok']);
    expect(after[1]).toEqual(before[0]); // the closed run came back intact from the store
  });
});

describe('wall-clock jumps', () => {
  const preload = pathToFileURL(path.join(ROOT, 'test', 'faults', 'support', 'clock-jump.mjs')).href;

  it.each([
    ['back one hour', -3_600_000],
    ['forward one hour', 3_600_000],
  ])('a run spanning a jump %s keeps its true duration and energy', async (_name, jumpMs) => {
    const sc = track(
      await startSidecar({
        env: { NODE_OPTIONS: `--import ${preload}`, PNAV_TEST_CLOCK_JUMP_MS: String(jumpMs) },
        args: ['--sample-interval', '200'],
      }),
    );
    const run = await openRun(sc);
    await new Promise(r => setTimeout(r, 300));
    sc.proc.kill('SIGUSR2');
    await waitFor('the clock jump', () => sc.output().includes('clock-jump: wall clock shifted'));
    await new Promise(r => setTimeout(r, 700));
    const closed = (await request(sc, 'POST', `/api/v1/runs/${run.id}/close`, { body: { status: 'ok' } })).json.run;
    // The injection worked: the run's wall-clock timestamps did jump...
    const wallSpanS = (Date.parse(closed.endedAt) - Date.parse(closed.startedAt)) / 1000;
    expect(Math.abs(wallSpanS - jumpMs / 1000)).toBeLessThan(5);
    // ...but its duration and energy come from the monotonic clock.
    expect(closed.durationS).toBeGreaterThan(0.9);
    expect(closed.durationS).toBeLessThan(3);
    const cpuW = closed.energy.cpu.energyJ / closed.durationS;
    expect(cpuW).toBeGreaterThanOrEqual(85 * 0.1 * 0.99);
    expect(cpuW).toBeLessThanOrEqual(85 * 1.01);
  });
});

describe('two sidecars started at once on one runtime dir', () => {
  it('one wins, the other defers with exit code 0; one runtime file; the winner exits 0 and removes it', async () => {
    for (let round = 0; round < 3; round++) {
      const runtimeDir = tmpDir('runtime');
      const dataDir = tmpDir('data');
      const args = ['sidecar', '--port', '0', '--runtime-dir', runtimeDir, '--data-dir', dataDir, '--cpu-tdp', '85'];
      const procs = [spawnCli(args), spawnCli(args)].map(trackChild);
      const outputs = procs.map(p => {
        let s = '';
        p.stdout!.on('data', d => {
          s += d;
        });
        p.stderr!.on('data', d => {
          s += d;
        });
        return () => s;
      });
      const exits = procs.map(exitOf);
      const firstExit = await Promise.race(exits.map((e, i) => e.then(code => ({ i, code }))));
      const loser = firstExit.i;
      const winner = 1 - loser;
      expect(firstExit.code, outputs[loser]!()).toBe(0);
      expect(outputs[loser]!()).toMatch(/already running at http:\/\/127\.0\.0\.1:\d+/);
      const info = await waitFor('the runtime file', () => readRuntime(runtimeDir));
      expect(info.pid).toBe(procs[winner]!.pid);
      expect(outputs[loser]!()).toContain(info.url);
      expect(fs.readdirSync(runtimeDir).filter(f => f.startsWith('pnav-sidecar') && f.endsWith('.json'))).toEqual([
        'pnav-sidecar.json',
      ]);
      const ok = await request({ port: Number(new URL(info.url).port), token: info.token }, 'GET', '/healthz');
      expect(ok.status).toBe(200);
      procs[winner]!.kill('SIGTERM');
      expect(await exits[winner]).toBe(0);
      expect(fs.existsSync(path.join(runtimeDir, 'pnav-sidecar.json'))).toBe(false);
    }
  });
});
