/**
 * Telling our sidecar from whatever now holds its pid. A pid in a file under ~/.local/share outlives
 * reboots and gets reused, so "kill(pid, 0) works" proves nothing: a process is the one a file
 * recorded only when its start time (boot id + start ticks from procfs) matches too.
 */
import fs from 'node:fs';
import path from 'node:path';

/** `<boot id>:<start ticks>` of `pid`, or null where procfs cannot tell (not Linux, process gone). */
export function processStartId(pid: number, procRoot = '/proc'): string | null {
  const ticks = startTicks(pid, procRoot);
  if (ticks === null) return null;
  return `${bootId(procRoot)}:${ticks}`;
}

function startTicks(pid: number, procRoot: string): string | null {
  try {
    const stat = fs.readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
    // Fields after the parenthesised command name: state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

let cachedBootId: string | null = null;
function bootId(procRoot: string): string {
  if (cachedBootId !== null && procRoot === '/proc') return cachedBootId;
  let id = 'unknown-boot';
  try {
    id = fs.readFileSync(path.join(procRoot, 'sys', 'kernel', 'random', 'boot_id'), 'utf8').trim();
  } catch {
    // containers without it: the start ticks alone still tell a reused pid apart
  }
  if (procRoot === '/proc') cachedBootId = id;
  return id;
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

/**
 * Whether `pid` is a running process of ours. A process killed with SIGKILL stays a zombie (state Z)
 * until its parent reaps it and still answers kill(pid, 0): counting it alive would make a restarted
 * sidecar defer to its own dead predecessor. EPERM means another user's process: never our sidecar.
 */
export function isAlive(pid: number, procRoot = '/proc'): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: someone else's process, so not a sidecar of ours
  }
  const state = processState(pid, procRoot);
  return state !== 'Z' && state !== 'X';
}

/** Whether `pid`'s command line runs `pnav sidecar` (null where procfs cannot tell). */
export function isSidecarCommand(pid: number, procRoot = '/proc'): boolean | null {
  let argv: string[];
  try {
    argv = fs.readFileSync(path.join(procRoot, String(pid), 'cmdline'), 'utf8').split('\0');
  } catch {
    return null;
  }
  return argv.includes('sidecar');
}

/**
 * Whether `pid` is still the process a file recorded: alive, running `pnav sidecar`, and (when the
 * file recorded one) with the same start id. Without procfs only "alive" can be checked.
 */
export function isSameProcess(pid: number, recordedStartId: string | undefined, procRoot = '/proc'): boolean {
  if (!isAlive(pid, procRoot)) return false;
  const current = processStartId(pid, procRoot);
  if (current === null) return true; // no procfs: the endpoint challenge decides
  if (recordedStartId !== undefined) return current === recordedStartId;
  return isSidecarCommand(pid, procRoot) !== false;
}
