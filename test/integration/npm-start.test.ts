/**
 * `npm start` exactly as the README says, in this checkout: JupyterLab comes up with the demo, the
 * lab extension and the sidecar behind /pnav/, it says where it is in one line, and it leaves
 * `git status` clean. The sidecar it starts is this checkout's own (.pnav-dev/), never another's.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNTIME_FILE = join(ROOT, '.pnav-dev', 'runtime', 'pnav-sidecar.json');
const TOKEN = 'npm-start-smoke-test-token';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function sidecarPid(): number | null {
  try {
    return Number(JSON.parse(readFileSync(RUNTIME_FILE, 'utf8')).pid) || null;
  } catch {
    return null;
  }
}

const gitStatus = () => spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).stdout;
const isGitCheckout = existsSync(join(ROOT, '.git'));

describe.skipIf(!isGitCheckout)('npm start', () => {
  let child: ChildProcess | undefined;
  let output = '';
  const pidBefore = sidecarPid();
  const statusBefore = isGitCheckout ? gitStatus() : '';

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      process.kill(-child.pid, 'SIGTERM');
      await new Promise(resolve => {
        const timer = setTimeout(() => {
          if (child?.pid) process.kill(-child.pid, 'SIGKILL');
          resolve(null);
        }, 15_000);
        child?.once('exit', () => {
          clearTimeout(timer);
          resolve(null);
        });
      });
    }
    const pid = sidecarPid();
    if (pid !== null && pid !== pidBefore) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });

  it('brings up JupyterLab with the demo, the extension and the sidecar, and leaves git status as it was', async () => {
    const port = await freePort();
    const started = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of [
      'PNAV_RUNTIME_DIR',
      'PNAV_DATA_DIR',
      'PNAV_SIDECAR_URL',
      'PNAV_SIDECAR_TOKEN',
      'PNAV_SIDECAR_CMD',
    ]) {
      delete env[name];
    }
    child = spawn('npm', ['start', '--', '--no-browser', `--port=${port}`, `--IdentityProvider.token=${TOKEN}`], {
      cwd: ROOT,
      env,
      detached: true, // its own process group: stopping it stops jupyter and its kernels
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', chunk => {
      output += chunk;
    });
    child.stderr?.on('data', chunk => {
      output += chunk;
    });
    const base = `http://127.0.0.1:${port}/`;
    const auth = { headers: { Authorization: `token ${TOKEN}` } };
    const get = async (path: string) => {
      try {
        return await fetch(base + path, auth);
      } catch {
        return null;
      }
    };
    const deadline = Date.now() + 170_000;
    const until = async (what: string, ok: () => Promise<boolean>) => {
      while (!(await ok())) {
        if (child?.exitCode !== null) throw new Error(`npm start exited with ${child?.exitCode}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`${what} not ready in time:\n${output}`);
        await new Promise(r => setTimeout(r, 250));
      }
    };
    await until('JupyterLab', async () => (await get('api/status'))?.ok === true);
    const readyS = (Date.now() - started) / 1000;

    const demo = await get('api/contents/pnav-demo.ipynb?content=0');
    expect(demo?.status).toBe(200);
    // The notebooks folder holds the demo and what the user made, none of npm start's own files.
    const listing = await (await get('api/contents/?content=1'))?.json();
    const startFiles = listing.content
      .map((f: { name: string }) => f.name)
      .filter((n: string) => !/\.(ipynb|csv)$/.test(n));
    expect(startFiles.filter((n: string) => n.includes('pnav-demo'))).toEqual([]);
    const extensions = await (await get('lab/api/extensions'))?.json();
    expect(JSON.stringify(extensions)).toContain('pnav-lab-labextension');
    await until('the sidecar behind /pnav/', async () => (await get('pnav/healthz'))?.ok === true);
    const status = await (await get('pnav/api/v1/status'))?.json();
    expect(status.dataDir).toBe(join(ROOT, '.pnav-dev', 'data'));

    expect(output).toMatch(/PNAV Lab: JupyterLab at http:\/\/\S+\/lab\S* · notebooks in \.pnav-dev\/notebooks/);
    expect(output).not.toMatch(/\[C [\d\- :.]*ServerApp\]/); // no critical error
    expect(gitStatus()).toBe(statusBefore);
    // `npm test` ran the same bootstrap before this file: the lock must still match what is committed.
    expect(
      spawnSync('git', ['status', '--porcelain', '--', 'package-lock.json'], { cwd: ROOT, encoding: 'utf8' }).stdout,
    ).toBe('');
    console.log(`npm start: JupyterLab answered after ${readyS.toFixed(1)} s (this checkout already set up)`);
  });
});
