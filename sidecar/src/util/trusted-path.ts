/**
 * Files that carry a token or decide where a token goes (the runtime file, locks, the log) are only
 * trusted when no other local user could have planted or swapped them: the file and its directory
 * belong to us, nobody else may write them, and no symlink is followed. Where uids do not exist
 * (Windows), the checks that need them are skipped.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class UntrustedPathError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`refusing ${file}: ${reason}`);
    this.name = 'UntrustedPathError';
  }
}

const myUid = (): number | null => (typeof process.getuid === 'function' ? process.getuid() : null);

/** Why a file or directory with these stats could have been written by someone else, or null when it could not. */
export function untrustedReason(st: fs.Stats, opts: { allowRoot?: boolean } = {}): string | null {
  const uid = myUid();
  if (uid === null) return null;
  const ownerOk = st.uid === uid || (opts.allowRoot === true && st.uid === 0);
  if (!ownerOk) return `owned by uid ${st.uid}, not by you (uid ${uid})`;
  if (st.mode & 0o002) return `writable by every user (mode ${modeText(st)})`;
  // umask 002 makes files group-writable; with a user-private group that group is only us.
  if (st.mode & 0o020 && !isPrivateGroup(st.gid)) return `writable by its group (mode ${modeText(st)})`;
  return null;
}

/**
 * Whether group `gid` can hold nobody but us: our primary group, no other account has it as primary
 * group, and /etc/group lists no member but us. Unknown (no /etc files) counts as shared.
 */
export function isPrivateGroup(gid: number): boolean {
  if (typeof process.getgid !== 'function' || gid !== process.getgid()) return false;
  const me = process.getuid?.();
  try {
    const others = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map(line => line.split(':'))
      .filter(f => f.length > 3 && Number(f[3]) === gid && Number(f[2]) !== me);
    if (others.length > 0) return false;
    const group = fs
      .readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map(line => line.split(':'))
      .find(f => f.length > 3 && Number(f[2]) === gid);
    const myName = os.userInfo().username;
    const members = (group?.[3] ?? '').split(',').filter(m => m !== '' && m !== myName);
    return group !== undefined && members.length === 0;
  } catch {
    return false;
  }
}

export function modeText(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Every ancestor of `dir` must be one another user cannot rename entries in: owned by us or root and
 * not writable by others, or sticky (like /tmp, where only an entry's owner may rename it).
 */
export function ancestorsReason(dir: string): string | null {
  const uid = myUid();
  if (uid === null) return null;
  let current = path.dirname(path.resolve(dir));
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(current);
    } catch (err) {
      return `cannot check ${current}: ${(err as Error).message}`;
    }
    const sticky = (st.mode & 0o1000) !== 0;
    if (st.uid !== uid && st.uid !== 0) return `its parent ${current} is owned by uid ${st.uid}`;
    const openToOthers = st.mode & 0o002 || (st.mode & 0o020 && !isPrivateGroup(st.gid));
    if (openToOthers && !sticky) return `its parent ${current} is writable by others (mode ${modeText(st)})`;
    const parent = path.dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/**
 * Creates `dir` (mode 0700) or checks the existing one: ours, a real directory (not a symlink), mode
 * forced to 0700 — a chmod that fails is an error — and no ancestor another user could swap it in.
 */
export function ensurePrivateDirStrict(dir: string, role: string): void {
  const resolved = path.resolve(dir);
  try {
    fs.mkdirSync(resolved, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UntrustedPathError(resolved, `cannot create the ${role}: ${(err as Error).message}`);
  }
  const st = fs.lstatSync(resolved);
  if (!st.isDirectory()) throw new UntrustedPathError(resolved, `the ${role} is a symlink or not a directory`);
  const uid = myUid();
  if (uid !== null && st.uid !== uid) {
    throw new UntrustedPathError(resolved, `the ${role} is owned by uid ${st.uid}, not by you (uid ${uid})`);
  }
  if ((st.mode & 0o777) !== 0o700) {
    try {
      fs.chmodSync(resolved, 0o700);
    } catch (err) {
      throw new UntrustedPathError(resolved, `cannot make the ${role} private (chmod 0700): ${(err as Error).message}`);
    }
  }
  const ancestors = ancestorsReason(resolved);
  if (ancestors) throw new UntrustedPathError(resolved, `the ${role} is not private: ${ancestors}`);
}

const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * Reads a file we wrote ourselves, without following a symlink, refusing one another user owns or may
 * write. Returns null when it does not exist; throws UntrustedPathError when it is not trustworthy.
 */
export function readTrustedFile(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new UntrustedPathError(file, 'it is a symlink');
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UntrustedPathError(file, 'not a regular file');
    const reason = untrustedReason(st);
    if (reason) throw new UntrustedPathError(file, reason);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: fails with EEXIST when anything (a symlink too) is already there. */
export function createExclusive(file: string): number {
  return fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | NOFOLLOW, 0o600);
}
