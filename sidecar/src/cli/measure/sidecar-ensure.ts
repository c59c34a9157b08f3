/**
 * Finding the sidecar the kernels will report to, or starting one, the same way every client
 * does (env PNAV_SIDECAR_URL + PNAV_SIDECAR_TOKEN, else the runtime file), and only once it proved it
 * holds its token: nothing is sent to a process squatting on a dead sidecar's port. A sidecar we start is
 * the user's one sidecar for that runtime dir while we run; we stop it when we are done.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { defaultRuntimeDir } from '../../config.js';
import { challengeSidecar } from '../../server/proof.js';
import { readAnsweringRuntime } from '../../server/runtime-file.js';
import { ownCliCommand } from './own-environment.js';
import type { SidecarAccess } from './sidecar-client.js';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export interface EnsuredSidecar {
  access: SidecarAccess;
  url: string;
  token: string;
  runtimeDir: string;
  /** Stops the sidecar if we started it; a no-op otherwise. */
  release(): Promise<void>;
}

export class SidecarStartError extends Error {}

function direct(url: string, token: string, source: string): SidecarAccess {
  return { baseUrl: url.replace(/\/+$/, ''), authorization: `Bearer ${token}`, source };
}

/**
 * The user's running sidecar (env pair, else the runtime file), once it has proved it holds its token
 * (server/proof.ts); null when none does. `onRefused` hears why a candidate was not used.
 */
export async function findRunningSidecar(
  env: NodeJS.ProcessEnv = process.env,
  onRefused: (why: string) => void = () => {},
): Promise<EnsuredSidecar | null> {
  const runtimeDir = defaultRuntimeDir(env);
  const release = async () => {};
  if (env.PNAV_SIDECAR_URL && env.PNAV_SIDECAR_TOKEN) {
    const { PNAV_SIDECAR_URL: url, PNAV_SIDECAR_TOKEN: token } = env;
    const why = await challengeSidecar(url, token);
    if (why === null) return { access: direct(url, token, 'env'), url, token, runtimeDir, release };
    onRefused(`PNAV_SIDECAR_URL: ${why}`);
  }
  const live = await readAnsweringRuntime(runtimeDir, err => onRefused(err.message));
  if (!live) return null;
  return {
    access: direct(live.url, live.token, 'runtime-file'),
    url: live.url,
    token: live.token,
    runtimeDir,
    release,
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The running sidecar, or a new one started with our own CLI (`pnav sidecar`). */
export async function ensureSidecar(env: NodeJS.ProcessEnv = process.env): Promise<EnsuredSidecar> {
  const running = await findRunningSidecar(env);
  if (running) return running;
  const runtimeDir = defaultRuntimeDir(env);
  const [node, cli] = ownCliCommand();
  const child = spawn(node, [cli, 'sidecar', '--runtime-dir', runtimeDir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const live = await readAnsweringRuntime(runtimeDir);
    if (live) {
      // Another client may have started one at the same moment: ours then exits 0 and theirs is used.
      const ours = live.pid === child.pid;
      return {
        access: direct(live.url, live.token, ours ? 'started' : 'runtime-file'),
        url: live.url,
        token: live.token,
        runtimeDir,
        release: ours ? () => stopChild(child) : async () => {},
      };
    }
    if (child.exitCode !== null && child.exitCode !== 0) {
      throw new SidecarStartError(`pnav sidecar exited with ${child.exitCode}: ${stderr.trim()}`);
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  await stopChild(child);
  throw new SidecarStartError(
    `pnav sidecar wrote no runtime file in ${runtimeDir} within ${START_TIMEOUT_MS / 1000} s`,
  );
}

/** A sidecar reached through a Jupyter server's `/pnav/` proxy (the server extension), with Jupyter's token. */
export function proxiedSidecar(jupyterBaseUrl: string, jupyterToken: string): SidecarAccess {
  return {
    baseUrl: `${jupyterBaseUrl.replace(/\/+$/, '')}/pnav`,
    authorization: `token ${jupyterToken}`,
    source: 'jupyter-proxy',
  };
}
