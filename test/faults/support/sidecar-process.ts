/**
 * Real sidecar processes for fault, access and fuzz tests: the built CLI (`node sidecar/dist/cli.js
 * sidecar`) on port 0 in throw-away directories, found through its runtime file like every client.
 * Requests go through node:http (not fetch) so tests can send any Host, Origin or header at all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.join(ROOT, 'sidecar', 'dist', 'cli.js');
export const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

export interface RuntimeInfo {
  url: string;
  token: string;
  pid: number;
  version: string;
  started_at: string;
}

export interface SidecarProcess {
  proc: ChildProcess;
  dataDir: string;
  runtimeDir: string;
  url: string;
  port: number;
  token: string;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pnav-${prefix}-`));
}

export function runtimeFile(runtimeDir: string): string {
  return path.join(runtimeDir, 'pnav-sidecar.json');
}

export function readRuntime(runtimeDir: string): RuntimeInfo | null {
  try {
    return JSON.parse(fs.readFileSync(runtimeFile(runtimeDir), 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
}

export async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 25));
  }
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): ChildProcess {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise(resolve => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.exitCode);
    else proc.once('exit', code => resolve(code));
  });
}

/** Starts `pnav sidecar` and waits until its runtime file names this process. */
export async function startSidecar(
  opts: { dataDir?: string; runtimeDir?: string; args?: string[]; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<SidecarProcess> {
  const dataDir = opts.dataDir ?? tmpDir('data');
  const runtimeDir = opts.runtimeDir ?? tmpDir('runtime');
  const proc = spawnCli(
    [
      'sidecar',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--runtime-dir',
      runtimeDir,
      '--cpu-tdp',
      '85',
      '--country',
      'ESP',
      ...(opts.args ?? []),
    ],
    opts.env,
    opts.cwd,
  );
  let out = '';
  proc.stdout!.on('data', d => {
    out += d;
  });
  proc.stderr!.on('data', d => {
    out += d;
  });
  const exited = exitOf(proc);
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const info = await waitFor(
    'the sidecar runtime file',
    () => {
      if (gone) throw new Error(`the sidecar exited before it was ready:\n${out}`);
      const r = readRuntime(runtimeDir);
      return r && r.pid === proc.pid ? r : null;
    },
    30_000,
  );
  return {
    proc,
    dataDir,
    runtimeDir,
    url: info.url,
    port: Number(new URL(info.url).port),
    token: info.token,
    output: () => out,
    exited,
    stop: async () => {
      if (!gone) proc.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      if (!gone) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes; tests assert on them
  json: any;
}

/** One HTTP request with full control of the headers. Default headers: the right Host and token. */
export function request(
  sc: { port: number; token: string },
  method: string,
  urlPath: string,
  opts: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string | undefined> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {
    host: `127.0.0.1:${sc.port}`,
    authorization: `Bearer ${sc.token}`,
  };
  let payload: string | Buffer | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === undefined) delete headers[k.toLowerCase()];
    else headers[k.toLowerCase()] = v;
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      { host: '127.0.0.1', port: sc.port, method, path: urlPath, headers, agent: false },
      res => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON (metrics text, a file body)
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    // A server that answers before reading a large body (413, 415) may close the connection while the
    // body is still being written: once its answer is in, that write error is not the request's outcome.
    req.on('error', err => {
      if (!answered) reject(err);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 30 s`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Opens a run and returns it (asserting 201). */
export async function openRun(sc: SidecarProcess, body: Record<string, unknown> = {}) {
  const r = await request(sc, 'POST', '/api/v1/runs', { body: { kind: 'manual', ...body } });
  if (r.status !== 201) throw new Error(`open run: ${r.status} ${r.text}`);
  return r.json.run;
}

export async function listRuns(sc: SidecarProcess) {
  const r = await request(sc, 'GET', '/api/v1/runs?limit=10000');
  if (r.status !== 200) throw new Error(`list runs: ${r.status} ${r.text}`);
  return r.json.runs as Array<Record<string, unknown> & { id: string; status: string }>;
}

/** A Python process running cells in a real IPython shell with `%load_ext pnav_lab` (a kernel without ZMQ). */
export function ipythonCells(cells: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const script = `
import sys, json, warnings
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic('load_ext', 'pnav_lab')
for cell in json.loads(sys.argv[1]):
    if cell == '<wait>':
        sys.stdout.write('WAITING\\n'); sys.stdout.flush(); sys.stdin.readline(); continue
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        r = shell.run_cell(cell, store_history=False)
    pw = [str(w.message) for w in caught if 'pnav' in str(w.message)]
    sys.stdout.write('CELL ' + json.dumps({'ok': r.success, 'warnings': pw}) + '\\n'); sys.stdout.flush()
`;
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return spawn(VENV_PYTHON, ['-c', script, JSON.stringify(cells)], {
    cwd: os.tmpdir(),
    env: merged,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Collects a child's stdout lines; `next(prefix)` waits for the next line starting with it. */
export function lines(proc: ChildProcess) {
  const seen: string[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', d => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    seen.push(...parts);
  });
  proc.stderr!.on('data', d => {
    stderr += d;
  });
  let cursor = 0;
  return {
    all: () => seen,
    stderr: () => stderr,
    next: (prefix: string, timeoutMs = 60_000) =>
      waitFor(
        `a line starting with ${prefix} (stderr: ${stderr.slice(-500)})`,
        () => {
          while (cursor < seen.length) {
            const line = seen[cursor++]!;
            if (line.startsWith(prefix)) return line;
          }
          return null;
        },
        timeoutMs,
      ),
  };
}
