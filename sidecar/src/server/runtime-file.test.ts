import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  claimRuntimeDir,
  isAlive,
  processState,
  type RuntimeInfo,
  readLiveRuntime,
  removeRuntimeFile,
  runtimeFilePath,
  tryLockFile,
  writeRuntimeFile,
} from './runtime-file.js';

let dir: string;
beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-rt-')), 'runtime');
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

const STARTED_AT = new Date().toISOString();
const info = (pid: number): RuntimeInfo => ({
  url: 'http://127.0.0.1:1234',
  token: 't'.repeat(64),
  pid,
  version: '0.0.0',
  started_at: STARTED_AT,
});

/** A pid that is certainly dead: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise(r => child.once('exit', r));
  return child.pid!;
}

/**
 * A real zombie: a shell starts `sleep`, SIGKILLs it, then execs into a `sleep` that never waits, so the
 * killed child stays in state Z while its parent lives. Resolves once /proc shows the Z state.
 */
async function zombie(): Promise<{ pid: number; parent: ChildProcess }> {
  const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; kill -9 $!; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const pid = await new Promise<number>(resolve => parent.stdout!.once('data', (d: Buffer) => resolve(Number(d))));
  for (let i = 0; i < 200 && processState(pid) !== 'Z'; i++) await new Promise(r => setTimeout(r, 10));
  return { pid, parent };
}

describe('isAlive', () => {
  it('counts a zombie (killed, not yet reaped) as dead, although kill(pid, 0) still succeeds', async () => {
    const { pid, parent } = await zombie();
    try {
      expect(processState(pid)).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow(); // why the old check called it alive
      expect(isAlive(pid)).toBe(false);
      expect(isAlive(process.pid)).toBe(true);
      expect(isAlive(await deadPid())).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('lets a restart claim the runtime dir and the lock of a zombie sidecar', async () => {
    const { pid, parent } = await zombie();
    try {
      writeRuntimeFile(dir, info(pid));
      fs.writeFileSync(path.join(dir, 'pnav-sidecar.lock'), String(pid));
      expect(readLiveRuntime(dir)).toBeNull();
      const claim = await claimRuntimeDir(dir, { waitMs: 2_000 });
      expect(claim.kind).toBe('claimed');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('reads the state from procRoot, after a command name holding spaces and parentheses', () => {
    const procRoot = path.join(path.dirname(dir), 'proc');
    fs.mkdirSync(path.join(procRoot, String(process.pid)), { recursive: true });
    fs.writeFileSync(path.join(procRoot, String(process.pid), 'stat'), `${process.pid} (a) b (c) X 1 2 3\n`);
    expect(processState(process.pid, procRoot)).toBe('X');
    expect(isAlive(process.pid, procRoot)).toBe(false);
    expect(processState(process.pid, path.join(procRoot, 'missing'))).toBeNull();
    expect(isAlive(process.pid, path.join(procRoot, 'missing'))).toBe(true);
  });
});

describe('runtime file', () => {
  it('is written with mode 0600 in a 0700 dir and removed only by its owner', async () => {
    const claim = await claimRuntimeDir(dir);
    expect(claim.kind).toBe('claimed');
    const file = writeRuntimeFile(dir, info(process.pid));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(readLiveRuntime(dir)).toEqual(info(process.pid));
    removeRuntimeFile(dir, process.pid + 1);
    expect(fs.existsSync(file)).toBe(true);
    removeRuntimeFile(dir);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('defers to a live sidecar already in the runtime dir', async () => {
    const parent = process.ppid; // alive for the whole test
    writeRuntimeFile(dir, info(parent));
    const claim = await claimRuntimeDir(dir);
    expect(claim).toEqual({ kind: 'running', info: info(parent) });
  });

  it('replaces a stale file whose pid is dead', async () => {
    writeRuntimeFile(dir, info(await deadPid()));
    expect(readLiveRuntime(dir)).toBeNull();
    const claim = await claimRuntimeDir(dir);
    expect(claim.kind).toBe('claimed');
  });

  it('clears a lock left by a dead process', async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'pnav-sidecar.lock'), String(await deadPid()));
    const claim = await claimRuntimeDir(dir, { waitMs: 2_000 });
    expect(claim.kind).toBe('claimed');
  });

  it('lets one of two simultaneous claims win; the other waits for its runtime file', async () => {
    const first = await claimRuntimeDir(dir);
    expect(first.kind).toBe('claimed');
    // The lock is ours (this pid is alive): a second claimant waits, then defers to the file.
    const second = claimRuntimeDir(dir, { waitMs: 5_000, pollMs: 10 });
    const other = process.ppid;
    setTimeout(() => {
      writeRuntimeFile(dir, info(other));
      if (first.kind === 'claimed') first.release();
    }, 100);
    expect(await second).toEqual({ kind: 'running', info: info(other) });
    expect(fs.existsSync(path.join(dir, 'pnav-sidecar.lock'))).toBe(false);
    expect(fs.existsSync(runtimeFilePath(dir))).toBe(true);
  });

  it('gives up with a clear error when a live lock holder never writes its file', async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'pnav-sidecar.lock'), String(process.ppid));
    await expect(claimRuntimeDir(dir, { waitMs: 100, pollMs: 10 })).rejects.toThrow(
      `another pnav sidecar holds ${path.join(dir, 'pnav-sidecar.lock')} but wrote no runtime file`,
    );
  });

  it('tryLockFile creates exclusively', () => {
    fs.mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, 'x.lock');
    const release = tryLockFile(lock);
    expect(release).not.toBeNull();
    expect(tryLockFile(lock)).toBeNull();
    release!();
    expect(fs.existsSync(lock)).toBe(false);
  });
});
