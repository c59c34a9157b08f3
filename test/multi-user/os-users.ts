/**
 * Two real OS users for the tests that attack PNAV Lab as another local user: created with `useradd`,
 * processes started as them (Node's spawn with uid/gid: the pid we hold is the process itself, so it can
 * be killed by id), removed with `userdel` afterwards. Needs root; `skipReason()` says why not otherwise.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SIDECAR_CLI = path.join(ROOT, 'sidecar', 'dist', 'cli.js');
const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Why the multi-user tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  if (process.platform !== 'linux') return 'multi-user tests need Linux (useradd, /proc)';
  if (process.getuid?.() !== 0) return 'multi-user tests need root to create two OS users (useradd): run as root';
  for (const tool of ['useradd', 'userdel']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `multi-user tests need ${tool}`;
  }
  if (!fs.existsSync(SIDECAR_CLI)) return `the sidecar is not built (${SIDECAR_CLI})`;
  return null;
}

/** A base dir every test user can enter (mkdtemp makes 0700 dirs). */
export function makeBaseDir(): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-mu-'));
  fs.chmodSync(base, 0o755);
  return base;
}

export function createUser(base: string, role: string): OsUser {
  const name = `pnav${role.slice(0, 4)}${randomBytes(3).toString('hex')}`;
  const home = path.join(base, `home-${role}`);
  const r = spawnSync('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', name], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
  fs.chmodSync(home, 0o755); // the test (root) reads what the user wrote; other users may look, not write
  const [uid, gid] = ['-u', '-g'].map(flag => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout));
  return { name, uid: uid!, gid: gid!, home };
}

export function removeUser(user: OsUser): void {
  spawnSync('userdel', ['--force', '--remove', user.name]);
  spawnSync('groupdel', [user.name]); // userdel leaves a user-private group behind on some systems
}

/** The user's own environment: nothing of root's, PNAV dirs in the user's home. */
export function userEnv(user: OsUser, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    PNAV_RUNTIME_DIR: path.join(user.home, 'runtime'),
    PNAV_DATA_DIR: path.join(user.home, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(user.home, 'runtime'),
    ...extra,
  };
}

export interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

const started: ChildProcess[] = [];

export function runAs(user: OsUser, command: string, args: string[], env: Record<string, string>, cwd?: string): Proc {
  const child = spawn(command, args, {
    uid: user.uid,
    gid: user.gid,
    env,
    cwd: cwd ?? user.home,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', d => (out += d));
  const exit = new Promise<number | null>(resolve => child.once('close', code => resolve(code)));
  return { child, out: () => out, exit };
}

/** Kills, by pid, every process these tests started that is still running. */
export function killStarted(): void {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * A Python the test users can run with pnav_lab importable: the repo venv's interpreter when they may
 * execute it, else the system python3 of the same minor version with the venv's packages on PYTHONPATH
 * (a venv under /root is not reachable by other users). Null, with the reason, when neither works.
 */
export function pythonFor(user: OsUser): { python: string; env: Record<string, string> } | { reason: string } {
  const sitePackages = fs
    .readdirSync(path.join(ROOT, '.venv', 'lib'))
    .map(dir => path.join(ROOT, '.venv', 'lib', dir, 'site-packages'))[0]!;
  const pythonPath = { PYTHONPATH: `${path.join(ROOT, 'python-shim')}:${sitePackages}` };
  const probe = 'import pnav_lab.client, pnav_lab.serverext'; // what the tests import
  const candidates = [
    { python: VENV_PYTHON, env: {} },
    { python: '/usr/bin/python3', env: pythonPath },
  ];
  const tried: string[] = [];
  for (const c of candidates) {
    const r = spawnSync(c.python, ['-s', '-c', probe], {
      uid: user.uid,
      gid: user.gid,
      env: { ...userEnv(user), ...c.env },
      encoding: 'utf8',
    });
    if (r.status === 0) return c;
    tried.push(`${c.python}: ${(r.stderr || String(r.error)).trim().split('\n').at(-1)}`);
  }
  return { reason: `no Python with pnav_lab runs as a second user (${tried.join('; ')})` };
}

export async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}
