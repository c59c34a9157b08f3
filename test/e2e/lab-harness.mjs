/**
 * A real PNAV Lab stack for end-to-end tests and the lab benchmark: JupyterLab 4 from the
 * project's venv (with the built extension and the pnav_lab server extension, which starts the
 * real sidecar), Debian's Chromium driven by playwright-core, and a local PNAV endpoint
 * (`pnav mock-pnav`). The only fake is at the hardware boundary: a powercap sysfs tree whose
 * RAPL counters advance like a 20 W package and 4 W of DRAM.
 *
 * Every process started here is stopped by its own handle; temp dirs are removed.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VENV_BIN = join(ROOT, '.venv', 'bin');
export const CHROMIUM = process.env.PNAV_CHROMIUM ?? '/usr/bin/chromium';
export const SIDECAR_CLI = join(ROOT, 'sidecar', 'dist', 'cli.js');
export const BUILT_EXTENSION = join(ROOT, 'python-shim', 'pnav_lab', 'labextension', 'package.json');
export const INSTALLED_EXTENSION = join(ROOT, '.venv', 'share', 'jupyter', 'labextensions', 'pnav-lab-labextension');
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What is missing for the stack to run, or null when everything is there. */
export function missingPrerequisite() {
  if (!existsSync(CHROMIUM)) return `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`;
  if (!existsSync(join(VENV_BIN, 'jupyter'))) return `no jupyter in ${VENV_BIN}`;
  if (!existsSync(SIDECAR_CLI)) return `sidecar not built (${SIDECAR_CLI}); npm run build -w sidecar`;
  if (!existsSync(BUILT_EXTENSION)) return 'labextension not built; npm run build -w labextension';
  if (!existsSync(INSTALLED_EXTENSION))
    return 'labextension not installed in the venv; node labextension/scripts/install-dev.mjs';
  return null;
}

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function waitFor(what, probe, timeoutMs) {
  const until = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < until) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** A powercap tree (flat, as the kernel lists zones) with one package and its DRAM subzone, advancing in the background. */
export function fakeRapl(dir, { packageW = 20, dramW = 4, intervalMs = 50 } = {}) {
  const range = 262_143_328_850;
  const zones = [
    { zone: 'intel-rapl:0', name: 'package-0', watts: packageW, energyUj: 1_000_000 },
    { zone: 'intel-rapl:0:0', name: 'dram', watts: dramW, energyUj: 1_000_000 },
  ];
  const base = join(dir, 'sys', 'class', 'powercap');
  for (const z of zones) {
    const zdir = join(base, z.zone);
    mkdirSync(zdir, { recursive: true });
    writeFileSync(join(zdir, 'name'), `${z.name}\n`);
    writeFileSync(join(zdir, 'max_energy_range_uj'), `${range}\n`);
    writeFileSync(join(zdir, 'energy_uj'), `${z.energyUj}\n`);
  }
  // Readers keep the file open (as with sysfs) and a sysfs read never sees a half-written value:
  // overwrite in place with one write, never truncate. Values only grow in length (no wrap here).
  const fds = zones.map(z => openSync(join(base, z.zone, 'energy_uj'), 'r+'));
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const dtS = (now - last) / 1000;
    last = now;
    zones.forEach((z, i) => {
      z.energyUj += Math.round(z.watts * dtS * 1e6);
      writeSync(fds[i], `${z.energyUj}\n`, 0);
    });
  }, intervalMs);
  return {
    sysfsRoot: join(dir, 'sys'),
    stop: () => {
      clearInterval(timer);
      for (const fd of fds) closeSync(fd);
    },
  };
}

function stopProcess(child, graceMs = 5000) {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = signal => {
      try {
        // Detached: its own process group, so kernels and the sidecar it started go too.
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    kill('SIGTERM');
  });
}

/**
 * Starts JupyterLab (which starts the sidecar through the pnav_lab server extension) in a fresh
 * temp root. `notebooks` maps file names to notebook JSON written into the root first.
 */
export async function startLab({ notebooks = {}, sampleIntervalMs = 250, log = false } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'pnav-e2e-'));
  const dirs = {};
  for (const name of ['root', 'runtime', 'pnav-data', 'jupyter-config', 'jupyter-data', 'ipython', 'workspaces']) {
    dirs[name] = join(tmp, name);
    mkdirSync(dirs[name], { recursive: true });
  }
  // No news or update pop-up over the panel in screenshots.
  const notification = join(dirs['jupyter-config'], 'lab', 'user-settings', '@jupyterlab', 'apputils-extension');
  mkdirSync(notification, { recursive: true });
  writeFileSync(
    join(notification, 'notification.jupyterlab-settings'),
    JSON.stringify({ fetchNews: 'false', checkForUpdates: false }),
  );
  for (const [name, content] of Object.entries(notebooks)) {
    writeFileSync(join(dirs.root, name), JSON.stringify(content, null, 1));
  }
  const rapl = fakeRapl(tmp);
  const port = await freePort();
  const token = randomUUID().replaceAll('-', '');
  const env = {
    ...process.env,
    PATH: `${VENV_BIN}:${process.env.PATH}`,
    JUPYTER_CONFIG_DIR: dirs['jupyter-config'],
    JUPYTER_DATA_DIR: dirs['jupyter-data'],
    JUPYTER_RUNTIME_DIR: dirs.runtime,
    IPYTHONDIR: dirs.ipython,
    PNAV_RUNTIME_DIR: dirs.runtime,
    PNAV_DATA_DIR: dirs['pnav-data'],
    PNAV_SIDECAR_CMD: [
      process.execPath,
      SIDECAR_CLI,
      'sidecar',
      '--sysfs-root',
      rapl.sysfsRoot,
      '--sample-interval',
      String(sampleIntervalMs),
      '--country',
      'ESP',
    ].join(' '),
  };
  delete env.PNAV_SIDECAR_URL;
  delete env.PNAV_SIDECAR_TOKEN;
  const args = [
    'lab',
    '--no-browser',
    `--port=${port}`,
    '--ServerApp.ip=127.0.0.1',
    '--ServerApp.port_retries=0',
    `--IdentityProvider.token=${token}`,
    `--ServerApp.root_dir=${dirs.root}`,
    `--LabApp.workspaces_dir=${dirs.workspaces}`,
    '--LabApp.expose_app_in_browser=True',
    // CI containers run as root.
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
  ];
  const child = spawn(join(VENV_BIN, 'jupyter'), args, { cwd: dirs.root, env, detached: true, stdio: 'pipe' });
  let output = '';
  const keep = chunk => {
    output = (output + chunk.toString()).slice(-20_000);
    if (log) process.stderr.write(chunk);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    await stopProcess(child);
    rapl.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const auth = { headers: { Authorization: `token ${token}` } };
    await waitFor(
      'JupyterLab',
      async () => {
        if (child.exitCode !== null) throw new Error(`jupyter exited with ${child.exitCode}`);
        return (await fetch(`${url}api/status`, auth)).ok;
      },
      90_000,
    );
    await waitFor('the sidecar behind /pnav/', async () => (await fetch(`${url}pnav/healthz`, auth)).ok, 60_000);
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n--- jupyter output ---\n${output}`);
  }
  return { url, token, dirs, output: () => output, stop };
}

/** `pnav mock-pnav --port 0`: a local PNAV endpoint that records what it received (only `token` accepted when given). */
export async function startMockPnav({ token } = {}) {
  const args = [SIDECAR_CLI, 'mock-pnav', '--port', '0', ...(token ? ['--token', token] : [])];
  const child = spawn(process.execPath, args, { detached: true, stdio: 'pipe' });
  let output = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`mock-pnav did not start: ${output}`)), 20_000);
    const onData = chunk => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s/]+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        ok(`${match[1]}/`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', code => fail(new Error(`mock-pnav exited (${code}): ${output}`)));
  });
  return {
    url,
    received: async () => (await fetch(`${url}__received`)).json(),
    /** `failNext`, `status`, `retryAfterS`, `delayMs`, `reset`: see the mock's control schema. */
    control: async body =>
      (
        await fetch(`${url}__control`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json(),
    stop: () => stopProcess(child, 2000),
  };
}

/** Chromium with an empty profile; downloads accepted. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'pnav-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1500, height: 950 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Opens a notebook in JupyterLab and waits for the app, the notebook and an idle kernel. */
export async function openNotebook(context, lab, path) {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${lab.url}lab/tree/${encodeURIComponent(path)}?token=${lab.token}`);
  await page.waitForFunction(() => window.jupyterapp?.started !== undefined, null, { timeout: 60_000 });
  await page.evaluate(() => window.jupyterapp.started);
  await page.waitForSelector('.jp-NotebookPanel .jp-CodeCell', { timeout: 60_000 });
  await page.waitForFunction(
    () => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle',
    null,
    { timeout: 90_000 },
  );
  return page;
}

/** A notebook with the given code cells. */
export function notebook(cells) {
  return {
    cells: cells.map(source => ({ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null })),
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}
