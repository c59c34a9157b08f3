/**
 * Many users, many kernels. One sidecar per user, its files private to that user; and many real
 * kernels running `%%pnav` cells at once against one sidecar (the bench's load at a reduced size):
 * no run lost, none mixed up, attributed energy within the machine's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchSidecar, type LoadResult, runLoad, startSidecar } from '../bench/multi-kernel-load.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'sidecar', 'dist', 'cli.js');
const IS_ROOT = process.getuid?.() === 0;
const NOBODY_UID = 65534;

let workDir: string;
let alice: BenchSidecar;
let bob: BenchSidecar;

if (!IS_ROOT) {
  console.warn('multi-kernel.test.ts: SKIPPING the cross-user access check: it needs root to act as uid 65534');
}

const mode = (path: string) => statSync(path).mode & 0o777;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'pnav-multi-user-'));
  alice = await startSidecar({
    runtimeDir: join(workDir, 'alice', 'runtime'),
    dataDir: join(workDir, 'alice', 'data'),
  });
  bob = await startSidecar({ runtimeDir: join(workDir, 'bob', 'runtime'), dataDir: join(workDir, 'bob', 'data') });
  // One run each, so each store holds a user's data.
  for (const sidecar of [alice, bob]) {
    const headers = { Authorization: `Bearer ${sidecar.token}`, 'Content-Type': 'application/json' };
    const opened = await fetch(`${sidecar.url}/api/v1/runs`, { method: 'POST', headers, body: '{"label":"mine"}' });
    const { run } = (await opened.json()) as { run: { id: string } };
    await fetch(`${sidecar.url}/api/v1/runs/${run.id}/close`, { method: 'POST', headers, body: '{}' });
  }
});

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('one sidecar per user', () => {
  it('keeps the runtime file 0600 and the runtime and data directories 0700', () => {
    for (const user of [alice, bob]) {
      expect(mode(user.runtimeFile)).toBe(0o600);
      expect(mode(user.runtimeDir)).toBe(0o700);
      expect(mode(user.dataDir)).toBe(0o700);
      const stored = readdirSync(user.dataDir, { recursive: true, withFileTypes: true }).filter(e => e.isFile());
      expect(stored.length).toBeGreaterThan(0);
      for (const file of stored) expect(mode(join(file.parentPath, file.name)), file.name).toBe(0o600);
    }
  });

  it("answers a second `pnav sidecar` on the same runtime dir with the running one's address", async () => {
    const second = spawn(process.execPath, [CLI, 'sidecar', '--runtime-dir', alice.runtimeDir], {
      env: { ...process.env, PNAV_DATA_DIR: alice.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    second.stdout.on('data', chunk => {
      output += chunk;
    });
    second.stderr.on('data', chunk => {
      output += chunk;
    });
    const code = await new Promise(resolve => second.once('exit', resolve));
    expect(code).toBe(0);
    expect(output).toContain(alice.url);
    expect(output).not.toContain(alice.token);
  });

  it("refuses one user's token at another user's sidecar", async () => {
    const status = (url: string, token: string) =>
      fetch(`${url}/api/v1/runs`, { headers: { Authorization: `Bearer ${token}` } }).then(r => r.status);
    expect(await status(alice.url, alice.token)).toBe(200);
    expect(await status(alice.url, bob.token)).toBe(401);
    expect(await status(bob.url, alice.token)).toBe(401);
  });

  it.runIf(IS_ROOT)('lets no other user read the runtime file (the token) or list the store', () => {
    // As root we can act as a second, unprivileged user: uid 65534 (nobody).
    const asNobody = (args: string[]) => spawnSync(args[0]!, args.slice(1), { uid: NOBODY_UID, encoding: 'utf8' });
    const read = asNobody(['cat', alice.runtimeFile]);
    expect(read.status).not.toBe(0);
    expect(read.stderr).toContain('Permission denied');
    const list = asNobody(['ls', alice.dataDir]);
    expect(list.status).not.toBe(0);
    expect(list.stderr).toContain('Permission denied');
  });
});

describe('many kernels against one sidecar (reduced load: 4 kernels × 10 cells)', () => {
  let result: LoadResult;

  beforeAll(async () => {
    result = await runLoad({ kernels: 4, cells: 10, startConcurrency: 2 });
  });

  it('loses no run and mixes none up', () => {
    expect(result.problems).toEqual([]);
    expect(result.runs).toBe(40);
    expect(result.cellWallMs.n).toBe(40);
  });

  it("keeps the attributed shares within the machine's energy over the window", () => {
    expect(result.energy.machineJ).toBeGreaterThan(0);
    // The cells are microseconds of work and /proc counts CPU time in 10 ms ticks, so a kernel's share can
    // honestly be 0 J here; what must hold is that the shares never exceed the machine's energy.
    expect(result.energy.attributedJ).toBeGreaterThanOrEqual(0);
    expect(result.energy.attributedJ).toBeLessThanOrEqual(result.energy.machineJ);
  });

  it('kept the API answering while the kernels ran', () => {
    expect(result.probeOpenCloseRoundTripMs.n).toBeGreaterThan(0);
  });
});
