/**
 * A Jupyter server of our own for `pnav measure`: the user's `jupyter server` on a free loopback
 * port, with a fresh token and an isolated runtime directory (so it never shows up in, or clashes
 * with, the user's own servers). Kernels inherit its environment, which is how they find the sidecar.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findJupyter } from './own-environment.js';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_CHARS = 4_000;

export interface JupyterConnection {
  baseUrl: string;
  token: string;
}

export interface OwnJupyterServer extends JupyterConnection {
  stop(): Promise<void>;
}

export interface StartJupyterOptions {
  rootDir: string;
  /** Extra environment for the server and its kernels (the sidecar's discovery variables). */
  env: Record<string, string>;
}

export class JupyterStartError extends Error {}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function waitUntilReady(child: ChildProcess, connection: JupyterConnection, logTail: () => string) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitCode: number | null = null;
  child.once('exit', code => {
    exitCode = code ?? -1;
  });
  while (Date.now() < deadline) {
    if (exitCode !== null) throw new JupyterStartError(`jupyter server exited with ${exitCode}:\n${logTail()}`);
    try {
      const response = await fetch(`${connection.baseUrl}api/status`, {
        headers: { Authorization: `token ${connection.token}` },
      });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise(resolve => setTimeout(resolve, 150));
  }
  throw new JupyterStartError(`jupyter server did not answer within ${READY_TIMEOUT_MS / 1000} s:\n${logTail()}`);
}

export async function startJupyterServer(options: StartJupyterOptions): Promise<OwnJupyterServer> {
  const jupyter = findJupyter();
  if (!jupyter) {
    throw new JupyterStartError(
      'no `jupyter` found: set PNAV_JUPYTER, create the repository venv (npm start does), or put jupyter on PATH',
    );
  }
  const runtimeDir = await mkdtemp(join(tmpdir(), 'pnav-measure-jupyter-'));
  const port = await freeLoopbackPort();
  const token = randomBytes(24).toString('hex');
  const child = spawn(
    jupyter,
    [
      'server',
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      '--ServerApp.open_browser=False',
      `--ServerApp.root_dir=${options.rootDir}`,
      '--ServerApp.log_level=WARN',
      // A dead kernel must stay dead (reported as such, not restarted): a silent restart would run the
      // rest of the notebook on a blank kernel.
      '--KernelRestarter.restart_limit=0',
      // Containers and CI often run as root; the server is ours, loopback-only and token-protected.
      ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    ],
    {
      // The token goes through the environment, never on a command line that `ps` shows.
      env: { ...process.env, ...options.env, JUPYTER_RUNTIME_DIR: runtimeDir, JUPYTER_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  const keepTail = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const connection = { baseUrl: `http://127.0.0.1:${port}/`, token };

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited(child);
      clearTimeout(timer);
    }
    await rm(runtimeDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(child, connection, () => log.replaceAll(token, '<token>'));
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...connection, stop };
}
