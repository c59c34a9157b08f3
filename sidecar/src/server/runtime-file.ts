/**
 * Discovery: `<runtimeDir>/pnav-sidecar.json` = {url, token, pid, version, started_at, data_dir}, mode
 * 0600, removed on exit. One sidecar per runtime dir: starting claims a lock file with an
 * exclusive create (O_EXCL), so of two starting at once one wins and the other defers to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir } from '../store/journal.js';
import { writeFileAtomicSync } from '../util/atomic-file.js';

export const RUNTIME_FILE_NAME = 'pnav-sidecar.json';
const LOCK_NAME = 'pnav-sidecar.lock';

export interface RuntimeInfo {
  url: string;
  token: string;
  pid: number;
  version: string;
  started_at: string;
  /** Where this sidecar keeps its ledger: a client tells the user which data it is writing to. */
  data_dir?: string;
}

export function runtimeFilePath(runtimeDir: string): string {
  return path.join(runtimeDir, RUNTIME_FILE_NAME);
}

/**
 * Whether `pid` is a running process. A process killed with SIGKILL stays a zombie (state Z) until its
 * parent reaps it and still answers kill(pid, 0): counting it alive would make a restarted sidecar
 * defer to its own dead predecessor. Where `<procRoot>/<pid>/stat` is unreadable (not Linux), kill decides.
 */
export function isAlive(pid: number, procRoot = '/proc'): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: alive, someone else's
  }
  const state = processState(pid, procRoot);
  return state !== 'Z' && state !== 'X';
}

/** The one-letter state in `<procRoot>/<pid>/stat` (after the parenthesised command name), or null. */
export function processState(pid: number, procRoot = '/proc'): string | null {
  try {
    const stat = fs.readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
    return (
      stat
        .slice(stat.lastIndexOf(')') + 1)
        .trim()
        .split(' ', 1)[0] || null
    );
  } catch {
    return null;
  }
}

/** The runtime file of a live sidecar, or null (missing, unreadable or its pid is dead). */
export function readLiveRuntime(runtimeDir: string): RuntimeInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(runtimeFilePath(runtimeDir), 'utf8')) as RuntimeInfo;
    return typeof info.pid === 'number' && isAlive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

export type Claim = { kind: 'claimed'; release: () => void } | { kind: 'running'; info: RuntimeInfo };

export interface ClaimOptions {
  /** How long to wait for a sidecar that is starting to write its runtime file. */
  waitMs?: number;
  pollMs?: number;
}

/**
 * Claims the runtime dir for this process, or returns the live sidecar already there (or
 * the one that won a simultaneous start). The claim holds a lock file until `release()`.
 */
export async function claimRuntimeDir(runtimeDir: string, opts: ClaimOptions = {}): Promise<Claim> {
  ensurePrivateDir(runtimeDir);
  const deadline = Date.now() + (opts.waitMs ?? 15_000);
  const lockPath = path.join(runtimeDir, LOCK_NAME);
  for (;;) {
    const live = readLiveRuntime(runtimeDir);
    if (live && live.pid !== process.pid) return { kind: 'running', info: live };
    const lock = tryLockFile(lockPath);
    if (lock) {
      // Re-check under the lock: the winner may have written its file just before we locked.
      const again = readLiveRuntime(runtimeDir);
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

/** O_EXCL create of a lock file holding our pid; a lock left by a dead process is removed. Returns the release function, or null when held. */
export function tryLockFile(lockPath: string): (() => void) | null {
  try {
    const fd = fs.openSync(lockPath, 'wx', 0o600);
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    return () => {
      try {
        if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
      } catch {
        // already gone
      }
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let holder = Number.NaN;
  try {
    holder = Number(fs.readFileSync(lockPath, 'utf8'));
  } catch {
    return null; // released between our open and read: try again
  }
  // An empty lock is one being written right now (or by a process that died at once: then old).
  const stale = Number.isInteger(holder) && holder > 0 ? !isAlive(holder) : Date.now() - mtimeMs(lockPath) > 5_000;
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
    return fs.statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}

/** Writes the runtime file atomically with mode 0600. */
export function writeRuntimeFile(runtimeDir: string, info: RuntimeInfo): string {
  const file = runtimeFilePath(runtimeDir);
  ensurePrivateDir(runtimeDir);
  writeFileAtomicSync(file, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600, forceMode: true });
  return file;
}

/** Removes the runtime file if it is still ours. */
export function removeRuntimeFile(runtimeDir: string, pid = process.pid): void {
  const file = runtimeFilePath(runtimeDir);
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as RuntimeInfo;
    if (info.pid === pid) fs.unlinkSync(file);
  } catch {
    // missing or unreadable: nothing of ours to remove
  }
}
