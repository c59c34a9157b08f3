import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../../test-support/built-cli.js';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import { processStartId } from '../util/process-identity.js';
import { UntrustedPathError } from '../util/trusted-path.js';
import {
  claimRuntimeDir,
  isAlive,
  processState,
  type RuntimeInfo,
  readLiveRuntime,
  readRuntimeFile,
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

/** A real `pnav sidecar` (the built CLI, fake powercap) whose runtime file the tests copy around. */
let realSidecar: { child: ChildProcess; info: RuntimeInfo; fake: FakeRoot };
beforeAll(async () => {
  ensureBuilt();
  const fake = new FakeRoot();
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 5_000_000 });
  const runtimeDir = fake.path('runtime');
  const child = spawn(
    process.execPath,
    [CLI, 'sidecar', '--sysfs-root', fake.sysfsRoot, '--runtime-dir', runtimeDir, '--data-dir', fake.path('data')],
    { stdio: 'ignore', env: { ...process.env, PNAV_COUNTRY: 'ESP' } },
  );
  for (let i = 0; i < 400 && !fs.existsSync(runtimeFilePath(runtimeDir)); i++)
    await new Promise(r => setTimeout(r, 50));
  realSidecar = { child, fake, info: JSON.parse(fs.readFileSync(runtimeFilePath(runtimeDir), 'utf8')) as RuntimeInfo };
}, 60_000);
afterAll(() => {
  realSidecar?.child.kill('SIGKILL');
  realSidecar?.fake.cleanup();
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise(r => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise(r => server.close(r));
  return port;
}

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
    expect(readLiveRuntime(dir)).toEqual({ ...info(process.pid), pid_start: processStartId(process.pid) });
    removeRuntimeFile(dir, process.pid + 1);
    expect(fs.existsSync(file)).toBe(true);
    removeRuntimeFile(dir);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('defers to a live sidecar already in the runtime dir', async () => {
    writeRuntimeFile(dir, realSidecar.info);
    const claim = await claimRuntimeDir(dir);
    expect(claim).toEqual({ kind: 'running', info: realSidecar.info });
  });

  it('replaces a file whose pid is alive but was reused by a process that is not a sidecar', async () => {
    writeRuntimeFile(dir, { ...info(process.ppid), pid_start: undefined }); // vitest's parent: alive, no sidecar
    const file = JSON.parse(fs.readFileSync(runtimeFilePath(dir), 'utf8')) as RuntimeInfo;
    fs.writeFileSync(runtimeFilePath(dir), JSON.stringify({ ...file, pid_start: undefined }), { mode: 0o600 });
    expect(readLiveRuntime(dir)).toBeNull();
    expect((await claimRuntimeDir(dir)).kind).toBe('claimed');
  });

  it("replaces a file naming a live sidecar's pid with another start time (the pid was reused after a reboot)", async () => {
    writeRuntimeFile(dir, { ...realSidecar.info, pid_start: 'another-boot:12345' });
    expect(readLiveRuntime(dir)).toBeNull();
    expect((await claimRuntimeDir(dir)).kind).toBe('claimed');
  });

  it('replaces a file whose sidecar is alive but whose endpoint does not answer the challenge', async () => {
    writeRuntimeFile(dir, { ...realSidecar.info, url: `http://127.0.0.1:${await closedPort()}` });
    expect(readLiveRuntime(dir)).not.toBeNull(); // the pid and its start time match ...
    expect((await claimRuntimeDir(dir)).kind).toBe('claimed'); // ... but nothing proves the token there
  });

  it('replaces a file naming the right pid with a token the sidecar cannot prove', async () => {
    writeRuntimeFile(dir, { ...realSidecar.info, token: 'f'.repeat(64) });
    expect((await claimRuntimeDir(dir)).kind).toBe('claimed');
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
    setTimeout(() => {
      writeRuntimeFile(dir, realSidecar.info);
      if (first.kind === 'claimed') first.release();
    }, 100);
    expect(await second).toEqual({ kind: 'running', info: realSidecar.info });
    expect(fs.existsSync(path.join(dir, 'pnav-sidecar.lock'))).toBe(false);
    expect(fs.existsSync(runtimeFilePath(dir))).toBe(true);
  });

  it('gives up with a clear error when a live lock holder never writes its file', async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'pnav-sidecar.lock'), `${process.ppid} ${processStartId(process.ppid)}`);
    await expect(claimRuntimeDir(dir, { waitMs: 100, pollMs: 10 })).rejects.toThrow(
      `another pnav sidecar holds ${path.join(dir, 'pnav-sidecar.lock')} but wrote no runtime file`,
    );
  });

  it('clears a lock whose pid is alive but was reused (another start time, or no sidecar in an old pid-only lock)', () => {
    fs.mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, 'data.lock');
    fs.writeFileSync(lock, `${process.ppid} another-boot:1`);
    expect(tryLockFile(lock)).toBeNull(); // clears it ...
    const release = tryLockFile(lock); // ... so the next try wins
    expect(release).not.toBeNull();
    release!();
    fs.writeFileSync(lock, String(process.ppid));
    expect(tryLockFile(lock) ?? tryLockFile(lock)).not.toBeNull();
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

describe('trust in the runtime dir', () => {
  it('refuses a symlink in place of the runtime file', () => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const elsewhere = path.join(path.dirname(dir), 'elsewhere.json');
    fs.writeFileSync(elsewhere, JSON.stringify(realSidecar.info), { mode: 0o600 });
    fs.symlinkSync(elsewhere, runtimeFilePath(dir));
    expect(() => readRuntimeFile(dir)).toThrow(new UntrustedPathError(runtimeFilePath(dir), 'it is a symlink'));
    expect(readLiveRuntime(dir)).toBeNull();
  });

  it('refuses a runtime file naming a host that is not loopback', () => {
    writeRuntimeFile(dir, { ...realSidecar.info, url: 'http://10.0.0.7:8888' });
    expect(() => readRuntimeFile(dir)).toThrow(
      new UntrustedPathError(runtimeFilePath(dir), "its url 'http://10.0.0.7:8888' is not a loopback address"),
    );
  });

  it('refuses a runtime file others may write', () => {
    writeRuntimeFile(dir, realSidecar.info);
    fs.chmodSync(runtimeFilePath(dir), 0o666);
    expect(() => readRuntimeFile(dir)).toThrow(
      new UntrustedPathError(runtimeFilePath(dir), 'writable by every user (mode 0666)'),
    );
  });

  it('refuses a runtime dir that is a symlink', async () => {
    const real = path.join(path.dirname(dir), 'real');
    fs.mkdirSync(real, { mode: 0o700 });
    fs.symlinkSync(real, dir);
    await expect(claimRuntimeDir(dir)).rejects.toThrow(
      new UntrustedPathError(dir, 'the runtime dir is a symlink or not a directory'),
    );
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a runtime dir another user owns (needs root to chown)', async () => {
    fs.mkdirSync(dir, { mode: 0o777 });
    fs.chownSync(dir, 65534, 65534);
    await expect(claimRuntimeDir(dir)).rejects.toThrow(
      new UntrustedPathError(dir, 'the runtime dir is owned by uid 65534, not by you (uid 0)'),
    );
  });
});
