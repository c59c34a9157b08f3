/**
 * The data directory full or read-only, on a real filesystem: a small tmpfs mounted for the test
 * (root only; as root, chmod does not deny writes, so a mount is the only honest way). Expected:
 * a clear error naming the cause, no crash, and nothing already stored damaged.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exitOf,
  listRuns,
  openRun,
  request,
  type SidecarProcess,
  spawnCli,
  startSidecar,
  tmpDir,
} from './support/sidecar-process.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Mounts a tmpfs of `size` at a fresh dir, or returns why it cannot (not root, no mount). */
function mountTmpfs(size: string): { dir: string } | { why: string } {
  const dir = tmpDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return { why: `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root and mount` };
  }
  cleanup.push(() => {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    } catch {
      // already gone
    }
  });
  return { dir };
}

function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'pipe' });
}

/** Fills the filesystem holding `dir` until ENOSPC; returns the filler file. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

async function track(sc: Promise<SidecarProcess>): Promise<SidecarProcess> {
  const s = await sc;
  cleanup.push(() => s.stop());
  return s;
}

async function closeRun(sc: SidecarProcess, id: string) {
  return request(sc, 'POST', `/api/v1/runs/${id}/close`, { body: { status: 'ok' } });
}

describe('data directory full', () => {
  it('clear error, the sidecar lives on, nothing half-stored, and what follows is durable again', async ctx => {
    const mounted = mountTmpfs('256k');
    if ('why' in mounted) {
      console.warn(`SKIPPED (not passed): ${mounted.why}`);
      ctx.skip();
      return;
    }
    const dataDir = path.join(mounted.dir, 'data');
    const sc = await track(startSidecar({ dataDir }));
    const kept = await openRun(sc, { label: 'before the disk filled' });
    const keptClosed = (await closeRun(sc, kept.id)).json.run;

    const filler = fill(mounted.dir);
    // Larger than a page: whatever room is left in the journal's last page, this write is cut short.
    const refusedPath = `/refused/${'x'.repeat(4000)}.ipynb`;
    const open = await request(sc, 'POST', '/api/v1/runs', { body: { kind: 'manual', notebookPath: refusedPath } });
    console.log(`open run on a full disk: HTTP ${open.status} ${open.text}`);
    expect((await request(sc, 'GET', '/healthz')).status).toBe(200);

    fs.rmSync(filler);
    // One journal line after the failure: if the failed write left a torn tail, this line is glued to it.
    const probe = await openRun(sc, { label: 'first write after space came back' });
    await sc.kill9();

    const again = await track(startSidecar({ dataDir }));
    const runs = await listRuns(again);
    expect(runs.find(r => r.id === kept.id)).toEqual(keptClosed);
    expect(runs.find(r => r.id === probe.id)?.status, 'an acknowledged run lost after a failed write').toBe(
      'interrupted',
    );
    // The refused run left nothing behind: the client got no id for it.
    expect(runs.filter(r => r.notebookPath === refusedPath)).toEqual([]);
    // And the refusal itself was a clear error, not an opaque 500.
    expect(open.status).toBeGreaterThanOrEqual(500);
    expect(open.json.error.message).toMatch(/ENOSPC|no space/i);
  });
});

describe('a close on a full disk', () => {
  it('answers 507 and leaves the run open; once space is back a retry stores the close, which survives kill -9', async ctx => {
    const mounted = mountTmpfs('256k');
    if ('why' in mounted) {
      console.warn(`SKIPPED (not passed): ${mounted.why}`);
      ctx.skip();
      return;
    }
    const dataDir = path.join(mounted.dir, 'data');
    const sc = await track(startSidecar({ dataDir }));
    // A long path makes the close's journal line larger than whatever room the last page has.
    const run = await openRun(sc, { notebookPath: `/nb/${'x'.repeat(4000)}.ipynb` });
    const filler = fill(mounted.dir);
    const refused = await closeRun(sc, run.id);
    console.log(`close on a full disk: HTTP ${refused.status} ${refused.text}`);
    expect([refused.status, refused.json.error.code]).toEqual([507, 'storage_unavailable']);
    expect(refused.json.error.message).toMatch(/ENOSPC/);
    const meanwhile = (await request(sc, 'GET', `/api/v1/runs/${run.id}`)).json.run;
    expect([meanwhile.status, meanwhile.endedAt]).toEqual(['open', null]);

    fs.rmSync(filler);
    const retried = await closeRun(sc, run.id);
    expect([retried.status, retried.json.run.status]).toEqual([200, 'ok']);
    await sc.kill9();
    const again = await track(startSidecar({ dataDir }));
    const back = (await listRuns(again)).find(r => r.id === run.id);
    expect(back).toEqual(retried.json.run);
  });

  it('PUT /api/v1/config on a full disk answers 507 naming the file, not a 500 with a raw message', async ctx => {
    const mounted = mountTmpfs('256k');
    if ('why' in mounted) {
      console.warn(`SKIPPED (not passed): ${mounted.why}`);
      ctx.skip();
      return;
    }
    const configHome = path.join(mounted.dir, 'xdg');
    const sc = await track(startSidecar({ env: { XDG_CONFIG_HOME: configHome } }));
    const filler = fill(mounted.dir);
    const put = await request(sc, 'PUT', '/api/v1/config', { body: { key: 'pue', value: 1.2, scope: 'user' } });
    console.log(`PUT /api/v1/config on a full disk: HTTP ${put.status} ${put.text}`);
    expect([put.status, put.json.error.code]).toEqual([507, 'storage_unavailable']);
    expect(put.json.error.message).toMatch(/no space left/);
    fs.rmSync(filler);
    const retried = await request(sc, 'PUT', '/api/v1/config', { body: { key: 'pue', value: 1.2, scope: 'user' } });
    expect(retried.status).toBe(200);
  });
});

describe('data directory read-only', () => {
  // A filesystem (or bind mount) with files open for writing cannot be remounted read-only (EBUSY),
  // so a data dir cannot turn read-only under a running sidecar, which keeps its journal open. What
  // can happen, and is tested: a data dir that is read-only when the sidecar starts (a mount gone ro
  // after an I/O error, a read-only home on a shared machine), holding runs from before.
  it('starting on it exits non-zero with one clear message naming the directory, and the runs there are untouched', async ctx => {
    const mounted = mountTmpfs('1m');
    if ('why' in mounted) {
      console.warn(`SKIPPED (not passed): ${mounted.why}`);
      ctx.skip();
      return;
    }
    const dataDir = path.join(mounted.dir, 'data');
    const before = await startSidecar({ dataDir });
    const kept = await openRun(before);
    expect((await closeRun(before, kept.id)).status).toBe(200);
    expect(await before.stop()).toBe(0);
    const snapshot = new Map(
      fs.readdirSync(dataDir).flatMap(f => {
        const p = path.join(dataDir, f);
        return fs.statSync(p).isFile() ? [[f, fs.readFileSync(p, 'utf8')] as const] : [];
      }),
    );

    remount(mounted.dir, 'ro');
    const proc = spawnCli([
      'sidecar',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--runtime-dir',
      tmpDir('runtime'),
      '--cpu-tdp',
      '85',
    ]);
    let out = '';
    proc.stdout!.on('data', d => {
      out += d;
    });
    proc.stderr!.on('data', d => {
      out += d;
    });
    const code = await exitOf(proc);
    console.log(`sidecar on a read-only data dir: exit ${code}: ${out.trim()}`);
    for (const [f, text] of snapshot) expect(fs.readFileSync(path.join(dataDir, f), 'utf8'), f).toBe(text);
    expect(code).not.toBe(0);
    expect(out).toContain(dataDir);
    expect(out).toMatch(/EROFS|read-only/i);
    expect(out, 'a one-line message, not a stack trace').not.toMatch(/^\s+at /m);
  });
});
