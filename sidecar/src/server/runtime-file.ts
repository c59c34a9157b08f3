/**
 * Discovery: `<runtimeDir>/pnav-sidecar.json` = {url, token, pid, pid_start, version, started_at,
 * data_dir}, mode 0600, removed on exit. One sidecar per runtime dir: starting claims a lock file with an
 * exclusive create (O_EXCL), so of two starting at once one wins and the other defers to it.
 * The runtime dir and every file in it must be ours and private (trusted-path.ts): a file another
 * user planted there is refused, never obeyed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../util/atomic-file.js';
import { isSameProcess, processStartId } from '../util/process-identity.js';
import {
  createExclusive,
  ensurePrivateDirStrict,
  readTrustedFile,
  UntrustedPathError,
  untrustedReason,
} from '../util/trusted-path.js';
import { challengeSidecar, loopbackUrlProblem } from './proof.js';

export { isAlive, processState } from '../util/process-identity.js';

export const RUNTIME_FILE_NAME = 'pnav-sidecar.json';
const LOCK_NAME = 'pnav-sidecar.lock';

export interface RuntimeInfo {
  url: string;
  token: string;
  pid: number;
  /** `<boot id>:<start ticks>` of `pid` (process-identity.ts): a reused pid does not match it. */
  pid_start?: string;
  version: string;
  started_at: string;
  /** Where this sidecar keeps its ledger: a client tells the user which data it is writing to. */
  data_dir?: string;
}

export function runtimeFilePath(runtimeDir: string): string {
  return path.join(runtimeDir, RUNTIME_FILE_NAME);
}

/** The runtime dir, created private (0700) or checked to be ours and private; throws UntrustedPathError. */
export function ensureRuntimeDir(runtimeDir: string): void {
  ensurePrivateDirStrict(runtimeDir, 'runtime dir');
}

/** The parsed runtime file; null when absent or not a runtime file; throws UntrustedPathError when planted. */
export function readRuntimeFile(runtimeDir: string): RuntimeInfo | null {
  const text = readTrustedFile(runtimeFilePath(runtimeDir));
  if (text === null) return null;
  let info: RuntimeInfo;
  try {
    info = JSON.parse(text) as RuntimeInfo;
  } catch {
    return null;
  }
  if (typeof info?.url !== 'string' || typeof info.token !== 'string' || typeof info.pid !== 'number') return null;
  const problem = loopbackUrlProblem(info.url);
  if (problem) throw new UntrustedPathError(runtimeFilePath(runtimeDir), `its url ${problem}`);
  return info;
}

/**
 * The runtime file of a live sidecar, or null (missing, or its pid is no longer the sidecar that wrote
 * it). A file we cannot trust is reported through `onRefused` and treated as absent.
 */
export function readLiveRuntime(
  runtimeDir: string,
  onRefused: (err: UntrustedPathError) => void = () => {},
): RuntimeInfo | null {
  try {
    ensureRuntimeDirTrusted(runtimeDir);
    const info = readRuntimeFile(runtimeDir);
    return info && isSameProcess(info.pid, info.pid_start) ? info : null;
  } catch (err) {
    if (err instanceof UntrustedPathError) onRefused(err);
    return null;
  }
}

/** Checks, without creating or changing anything, that an existing runtime dir is ours and private. */
function ensureRuntimeDirTrusted(runtimeDir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(runtimeDir);
  } catch {
    return; // absent: no file in it either
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  if (!st.isDirectory()) throw new UntrustedPathError(runtimeDir, 'the runtime dir is a symlink or not a directory');
  if (uid !== null && st.uid !== uid) {
    throw new UntrustedPathError(runtimeDir, `the runtime dir is owned by uid ${st.uid}, not by you (uid ${uid})`);
  }
  const reason = uid === null ? null : untrustedReason(st);
  if (reason) throw new UntrustedPathError(runtimeDir, `the runtime dir is ${reason}`);
}

/**
 * A live sidecar that also answers the challenge with its token; null otherwise. A pid that is alive and
 * is a sidecar but does not answer is a hung sidecar: replaced like a dead one.
 */
export async function readAnsweringRuntime(
  runtimeDir: string,
  onRefused?: (err: UntrustedPathError) => void,
): Promise<RuntimeInfo | null> {
  const info = readLiveRuntime(runtimeDir, onRefused);
  if (!info) return null;
  return (await challengeSidecar(info.url, info.token)) === null ? info : null;
}

export type Claim = { kind: 'claimed'; release: () => void } | { kind: 'running'; info: RuntimeInfo };

export interface ClaimOptions {
  /** How long to wait for a sidecar that is starting to write its runtime file. */
  waitMs?: number;
  pollMs?: number;
  log?: (msg: string) => void;
}

/**
 * Claims the runtime dir for this process, or returns the live sidecar already there (or
 * the one that won a simultaneous start). The claim holds a lock file until `release()`.
 * Throws UntrustedPathError when the runtime dir is not ours and private.
 */
export async function claimRuntimeDir(runtimeDir: string, opts: ClaimOptions = {}): Promise<Claim> {
  ensureRuntimeDir(runtimeDir);
  const log = opts.log ?? (() => {});
  const onRefused = (err: UntrustedPathError) => log(`${err.message}; it will be replaced`);
  const deadline = Date.now() + (opts.waitMs ?? 15_000);
  const lockPath = path.join(runtimeDir, LOCK_NAME);
  for (;;) {
    const live = await readAnsweringRuntime(runtimeDir, onRefused);
    if (live && live.pid !== process.pid) return { kind: 'running', info: live };
    const lock = tryLockFile(lockPath);
    if (lock) {
      // Re-check under the lock: the winner may have written its file just before we locked.
      const again = await readAnsweringRuntime(runtimeDir, onRefused);
      if (again && again.pid !== process.pid) {
        lock();
        return { kind: 'running', info: again };
      }
      return { kind: 'claimed', release: lock };
    }
    if (Date.now() > deadline) throw new Error(`another pnav sidecar holds ${lockPath} but wrote no runtime file`);
    await new Promise(r => setTimeout(r, opts.pollMs ?? 50));
  }
}

/** What a lock file holds: `<pid> <start id>`, so a reused pid does not keep a dead holder's lock. */
function lockContent(): string {
  return `${process.pid} ${processStartId(process.pid) ?? ''}`.trim();
}

/**
 * O_EXCL create of a lock file naming this process; a lock whose holder is gone (or whose pid now
 * belongs to another process) is removed. Returns the release function, or null when held.
 */
export function tryLockFile(lockPath: string): (() => void) | null {
  const mine = lockContent();
  try {
    const fd = createExclusive(lockPath);
    fs.writeSync(fd, mine);
    fs.closeSync(fd);
    return () => {
      try {
        if (fs.readFileSync(lockPath, 'utf8') === mine) fs.unlinkSync(lockPath);
      } catch {
        // already gone
      }
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let text: string | null;
  try {
    text = readTrustedFile(lockPath);
  } catch (err) {
    if (!(err instanceof UntrustedPathError)) return null;
    text = 'untrusted'; // planted (a symlink, another owner): not a lock of ours; removing it is safe
  }
  if (text === null) return null; // released between our open and read: try again
  const [pidText, startId] = text.trim().split(' ');
  const holder = Number(pidText);
  // An empty lock is one being written right now (or by a process that died at once: then old).
  const stale =
    text === 'untrusted'
      ? true
      : Number.isInteger(holder) && holder > 0
        ? !isSameProcess(holder, startId)
        : Date.now() - mtimeMs(lockPath) > 5_000;
  if (stale) {
    try {
      fs.unlinkSync(lockPath);
    } catch {
      // someone else removed it first
    }
  }
  return null;
}

function mtimeMs(file: string): number {
  try {
    return fs.lstatSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}

/** Writes the runtime file atomically with mode 0600, recording this process's start id. */
export function writeRuntimeFile(runtimeDir: string, info: RuntimeInfo): string {
  const file = runtimeFilePath(runtimeDir);
  ensureRuntimeDir(runtimeDir);
  const withStart = { ...info, pid_start: info.pid_start ?? processStartId(info.pid) ?? undefined };
  writeFileAtomicSync(file, `${JSON.stringify(withStart, null, 2)}\n`, { mode: 0o600, forceMode: true });
  return file;
}

/** Removes the runtime file if it is still ours. */
export function removeRuntimeFile(runtimeDir: string, pid = process.pid): void {
  const file = runtimeFilePath(runtimeDir);
  try {
    const info = JSON.parse(readTrustedFile(file) ?? '{}') as RuntimeInfo;
    if (info.pid === pid) fs.unlinkSync(file);
  } catch {
    // missing, unreadable or not ours: nothing of ours to remove
  }
}
