/**
 * `pnav measure` end to end: the BUILT CLI (`npm run build -w sidecar`) against a real Jupyter
 * server and a real ipykernel from the repository's venv, with `pnav_lab` installed, reporting to a
 * real sidecar. Checks the table, the JSON / CSV / HTML reports, the executed notebook, the runs in
 * the sidecar (kernel id, cell ids, labels, epochs) and every exit code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'sidecar', 'dist', 'cli.js');
const JUPYTER = join(ROOT, '.venv', 'bin', 'jupyter');
// calculadorapnav's header (output_methods/emissions_data.py), written out here so the test can fail.
const CALCULADORAPNAV_HEADER =
  'timestamp,type_process,model_id,ref,duration,emissions,emissions_rate,emissions_batch,emissions_epoch,' +
  'cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,energy_batch,n_batch,' +
  'time_batch,energy_epoch,n_epoch,time_epoch,model_size,n_parameters,n_features,country_name,' +
  'country_iso_code,region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,' +
  'gpu_model,ram_total_size,type_ram,on_cloud,pue';

interface Sidecar {
  url: string;
  token: string;
  stop(): Promise<void>;
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let workDir: string;
let runtimeDir: string;
let sidecar: Sidecar;

/** One user's sidecar per runtime dir, each with its own store next to it. */
function testEnv(runtime = runtimeDir): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PNAV_RUNTIME_DIR: runtime,
    PNAV_DATA_DIR: `${runtime}-data`,
    PNAV_JUPYTER: JUPYTER,
  };
  delete env.PNAV_SIDECAR_URL;
  delete env.PNAV_SIDECAR_TOKEN;
  delete env.JUPYTER_TOKEN;
  return env;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise(resolve => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', code => resolve(code));
  });
}

async function startSidecar(runtime: string): Promise<Sidecar> {
  const child = spawn(process.execPath, [CLI, 'sidecar', '--runtime-dir', runtime, '--country', 'ESP'], {
    env: testEnv(runtime),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const file = join(runtime, 'pnav-sidecar.json');
  for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise(r => setTimeout(r, 100));
  const info = JSON.parse(readFileSync(file, 'utf8')) as { url: string; token: string };
  return {
    ...info,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

function writeNotebook(name: string, cells: { id: string; source: string }[]): string {
  const path = join(workDir, name);
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      { cell_type: 'markdown', id: 'intro', metadata: {}, source: '# measured by pnav measure' },
      ...cells.map(cell => ({
        cell_type: 'code',
        id: cell.id,
        metadata: {},
        execution_count: null,
        outputs: [],
        source: cell.source,
      })),
    ],
  };
  writeFileSync(path, JSON.stringify(notebook, null, 1));
  return path;
}

function measure(
  args: string[],
  options: { runtime?: string; onStdout?: (text: string, child: ChildProcess) => void } = {},
) {
  const child = spawn(process.execPath, [CLI, 'measure', ...args], {
    cwd: workDir,
    env: testEnv(options.runtime),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk;
    options.onStdout?.(stdout, child);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  return exited(child).then(code => ({ code, stdout, stderr }) satisfies CliResult);
}

async function sidecarRuns(kernelId: string) {
  const response = await fetch(`${sidecar.url}/api/v1/runs?kernelId=${kernelId}`, {
    headers: { Authorization: `Bearer ${sidecar.token}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { runs: Record<string, unknown>[] }).runs;
}

const readJson = (file: string) => JSON.parse(readFileSync(join(workDir, file), 'utf8'));

beforeAll(async () => {
  for (const needed of [CLI, JUPYTER]) {
    if (!existsSync(needed))
      throw new Error(`${needed} is missing: run \`npm run build\` (node test/tools/bootstrap.mjs)`);
  }
  workDir = mkdtempSync(join(tmpdir(), 'pnav-measure-test-'));
  runtimeDir = join(workDir, 'runtime');
  sidecar = await startSidecar(runtimeDir);
});

afterAll(async () => {
  await sidecar?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('pnav measure on a notebook with a passing cell, a %%pnav cell with epochs and a failing cell', () => {
  let result: CliResult;
  let report: ReturnType<typeof readJson>;

  beforeAll(async () => {
    const notebook = writeNotebook('small.ipynb', [
      { id: 'c-pass', source: "total = sum(range(1000))\nprint('total', total)\ntotal * 2" },
      {
        id: 'c-epochs',
        source:
          '%%pnav --type training --epochs 3 --label "train"\nimport time\nimport pnav_lab\n' +
          'for epoch in pnav_lab.epochs(range(3)):\n    time.sleep(0.05)',
      },
      { id: 'c-fail', source: "raise ValueError('deliberate failure')" },
      { id: 'c-after', source: "print('never runs')" },
    ]);
    result = await measure([
      notebook,
      '--json',
      'out/report.json',
      '--csv',
      'out/report.csv',
      '--html',
      'out/report.html',
      '--executed',
      'out/executed.ipynb',
    ]);
    report = readJson('out/report.json');
  });

  it('stops at the failing cell like Run All, with exit code 1', () => {
    expect(result.code).toBe(1);
    expect(report.exitCode).toBe(1);
    expect(report.stopReason).toBe(
      "cell 3 (raise ValueError('deliberate failure')) failed: ValueError: deliberate failure",
    );
    expect(report.cells.map((c: { status: string }) => c.status)).toEqual(['ok', 'ok', 'error', 'not-run']);
    expect(result.stderr).toContain('ValueError: deliberate failure');
  });

  it('prints a row per cell and the totals', () => {
    const rows = result.stdout.split('\n');
    expect(rows.find(row => row.startsWith('1 '))).toMatch(/^1\s+total = sum\(range\(1000\)\)\s+ok\s+/);
    expect(rows.find(row => row.startsWith('2 '))).toMatch(/^2\s+import time\s+ok\s+/);
    expect(rows.find(row => row.startsWith('3 '))).toMatch(/^3\s+raise ValueError\('deliberate failure'\)\s+error\s+/);
    expect(result.stdout).toMatch(
      /total: .*Wh · .* CO2eq · .* · 3\/4 code cells measured · figures (measured|estimated|mixed)/,
    );
  });

  it('records one run per cell in the sidecar, tagged with the kernel, the cell id and the label', async () => {
    const runs = await sidecarRuns(report.kernel.id);
    const byCell = Object.fromEntries(runs.map(run => [run.cellId, run]));
    expect(Object.keys(byCell).sort()).toEqual(['c-epochs', 'c-fail', 'c-pass']);
    expect(byCell['c-pass']).toMatchObject({ kind: 'cell', status: 'ok', label: 'total = sum(range(1000))' });
    expect(byCell['c-epochs']).toMatchObject({ kind: 'cell', status: 'ok', label: 'train', typeProcess: 'training' });
    expect(byCell['c-fail']).toMatchObject({ kind: 'cell', status: 'error' });
    for (const run of runs) expect(String(run.notebookPath)).toMatch(/small\.ipynb$/);
    expect(report.cells[0].run.runId).toBe(byCell['c-pass']!.id);
  });

  it('reports the epochs of the %%pnav cell, and which cells it wrapped', () => {
    const [pass, epochs] = report.cells;
    expect(pass.measuredBy).toBe('pnav measure');
    expect(epochs.measuredBy).toBe('notebook %%pnav');
    expect(epochs.run.epochs.map((e: { index: number; status: string }) => [e.index, e.status])).toEqual([
      [0, 'ok'],
      [1, 'ok'],
      [2, 'ok'],
    ]);
    for (const epoch of epochs.run.epochs) expect(epoch.durationS).toBeGreaterThan(0.04);
  });

  it('gives every measured cell positive energy and says how it was obtained', () => {
    const measured = report.cells.filter((c: { run: unknown }) => c.run);
    expect(measured).toHaveLength(3);
    for (const cell of measured) {
      expect(cell.run.energyJ).toBeGreaterThan(0);
      expect(cell.run.emissionsG).toBeGreaterThan(0);
      expect(['measured', 'estimated', 'mixed']).toContain(cell.run.quality);
      expect(Object.keys(cell.run.methods).length).toBeGreaterThan(0);
    }
    const sum = measured.reduce(
      (acc: number, c: { run: { facilityEnergyJ: number } }) => acc + c.run.facilityEnergyJ,
      0,
    );
    expect(report.totals.facilityEnergyJ).toBeCloseTo(sum, 9);
    expect(report.sidecar.location.countryIso3).toBe('ESP');
  });

  it("writes calculadorapnav's 40-column CSV, one row per measured cell that did not fail", () => {
    const text = readFileSync(join(workDir, 'out/report.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe(CALCULADORAPNAV_HEADER);
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2); // c-pass and c-epochs; c-fail is in the JSON and HTML reports only
    expect(rows[1]!.n_epoch).toBe('3');
    for (const row of rows) {
      expect(Object.keys(row)).toHaveLength(40);
      expect(Number(row.energy_consumed)).toBeGreaterThan(0);
      expect(row.country_iso_code).toBe('ESP');
    }
  });

  it('writes a self-contained HTML report with a bar per cell', () => {
    const html = readFileSync(join(workDir, 'out/report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html.match(/<rect /g)).toHaveLength(3);
    expect(html).toContain('total = sum(range(1000))');
    expect(html).toContain('raise ValueError(&#39;deliberate failure&#39;)');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });

  it('writes the executed notebook with outputs and the pnav metadata the lab reads', () => {
    const executed = readJson('out/executed.ipynb');
    const cell = (id: string) => executed.cells.find((c: { id: string }) => c.id === id);
    expect(cell('c-pass').outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'total 499500\n' },
      { output_type: 'execute_result', data: { 'text/plain': '999000' }, metadata: {}, execution_count: 1 },
    ]);
    expect(cell('c-pass').metadata.pnav).toEqual({
      runId: report.cells[0].run.runId,
      energyJ: report.cells[0].run.energyJ,
      emissionsG: report.cells[0].run.emissionsG,
      durationS: report.cells[0].run.durationS,
      quality: report.cells[0].run.quality,
      methods: expect.any(Object),
    });
    expect(cell('c-fail').outputs[0]).toMatchObject({ output_type: 'error', ename: 'ValueError' });
    expect(cell('c-after').outputs).toEqual([]);
    expect(cell('c-after').metadata.pnav).toBeUndefined();
    expect(executed.cells[0]).toMatchObject({ cell_type: 'markdown', id: 'intro' });
  });

  it('keeps the sidecar token out of every output', () => {
    for (const file of ['report.json', 'report.csv', 'report.html', 'executed.ipynb']) {
      expect(readFileSync(join(workDir, 'out', file), 'utf8')).not.toContain(sidecar.token);
    }
    expect(result.stdout + result.stderr).not.toContain(sidecar.token);
  });
});

describe('pnav measure budgets', () => {
  let notebook: string;
  beforeAll(() => {
    notebook = writeNotebook('budget.ipynb', [
      { id: 'b1', source: 'x = sum(range(10_000))' },
      { id: 'b2', source: 'y = x + 1' },
    ]);
  });

  it('exits 0 within generous budgets', async () => {
    const result = await measure([notebook, '--max-energy-wh', '1000000', '--max-co2-g', '1000000']);
    expect(result.code).toBe(0);
  });

  it('exits 3 and says so when the energy budget is exceeded, and runs no further cell', async () => {
    const result = await measure([notebook, '--max-energy-wh', '0.000000001', '--json', 'out/energy.json']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/energy budget exceeded: .* Wh > --max-energy-wh 1e-9/);
    const report = readJson('out/energy.json');
    expect(report.budgets.breaches.map((b: { budget: string }) => b.budget)).toEqual(['energy']);
    expect(report.cells.map((c: { status: string }) => c.status)).toEqual(['ok', 'not-run']);
  });

  it('exits 3 when the CO2 budget is exceeded', async () => {
    const result = await measure([notebook, '--max-co2-g', '0.000000001']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/CO2 budget exceeded: .* g CO2eq > --max-co2-g 1e-9/);
  });
});

describe('pnav measure stopping cleanly', () => {
  it('on SIGTERM interrupts the running cell, records it as interrupted and exits 130', async () => {
    const notebook = writeNotebook('slow.ipynb', [
      { id: 's1', source: "print('first')" },
      { id: 's2', source: 'import time\nfor _ in range(600):\n    time.sleep(0.05)' },
      { id: 's3', source: "print('third')" },
    ]);
    let signalled = false;
    const result = await measure([notebook, '--json', 'out/slow.json'], {
      onStdout: (stdout, child) => {
        // Cell 1's row is printed: cell 2 is running now.
        if (!signalled && /\n1 +print/.test(stdout)) {
          signalled = true;
          setTimeout(() => child.kill('SIGTERM'), 500);
        }
      },
    });
    expect(result.code).toBe(130);
    const report = readJson('out/slow.json');
    expect(report.cells.map((c: { status: string }) => c.status)).toEqual(['ok', 'interrupted', 'not-run']);
    expect(report.cells[1].run.status).toBe('interrupted');
    expect(report.stopReason).toBe('interrupted (SIGINT/SIGTERM) in cell 2 (import time)');
    const runs = await sidecarRuns(report.kernel.id);
    expect(runs.filter(run => run.status === 'open')).toEqual([]);
  });

  it('on a kernel death records the cell as interrupted, names it and exits 1', async () => {
    const notebook = writeNotebook('die.ipynb', [
      { id: 'd1', source: "print('alive')" },
      { id: 'd2', source: 'import os\nos._exit(3)' },
      { id: 'd3', source: "print('after')" },
    ]);
    const result = await measure([notebook, '--json', 'out/die.json']);
    expect(result.code).toBe(1);
    const report = readJson('out/die.json');
    expect(report.stopReason).toBe('the kernel died in cell 2 (import os)');
    expect(report.cells.map((c: { status: string }) => c.status)).toEqual(['ok', 'kernel-died', 'not-run']);
    expect(report.cells[1].run.status).toBe('interrupted');
    // The sidecar's dead-pid reaper usually closes the dead kernel's run first; otherwise measure does.
    expect([null, 'run closed as interrupted by pnav measure']).toContain(report.cells[1].note);
  });
});

async function freePort(): Promise<number> {
  return new Promise(resolve => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('pnav measure --server-url', () => {
  it("runs on the user's Jupyter server and reads runs through its /pnav/ proxy", async () => {
    const port = await freePort();
    const jupyterToken = 'measure-test-jupyter-token';
    const server = spawn(
      JUPYTER,
      [
        'server',
        '--ServerApp.ip=127.0.0.1',
        `--ServerApp.port=${port}`,
        '--ServerApp.open_browser=False',
        `--ServerApp.root_dir=${workDir}`,
        ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
      ],
      {
        env: { ...testEnv(), JUPYTER_TOKEN: jupyterToken, JUPYTER_RUNTIME_DIR: join(workDir, 'jupyter-runtime') },
        stdio: 'ignore',
      },
    );
    try {
      const base = `http://127.0.0.1:${port}/`;
      let proxied = 0;
      for (let i = 0; i < 120 && proxied !== 200; i++) {
        await new Promise(r => setTimeout(r, 250));
        proxied = await fetch(`${base}pnav/healthz`, { headers: { Authorization: `token ${jupyterToken}` } }).then(
          r => r.status,
          () => 0,
        );
      }
      expect(proxied).toBe(200);
      const notebook = writeNotebook('remote.ipynb', [
        { id: 'r1', source: "print('on the server')" },
        { id: 'r2', source: '%%pnav --epochs 2\nimport pnav_lab\nfor _ in pnav_lab.epochs(range(2)):\n    pass' },
      ]);
      const child = spawn(
        process.execPath,
        [CLI, 'measure', notebook, '--server-url', base, '--json', 'out/remote.json'],
        // The token comes from the environment, as documented, so it never shows in `ps`.
        {
          cwd: workDir,
          env: { ...testEnv(join(workDir, 'no-sidecar-here')), JUPYTER_TOKEN: jupyterToken },
          stdio: 'ignore',
        },
      );
      expect(await exited(child)).toBe(0);
      const report = readJson('out/remote.json');
      expect(report.jupyter).toBe('external');
      expect(report.sidecar.source).toBe('jupyter-proxy');
      expect(report.cells.map((c: { status: string }) => c.status)).toEqual(['ok', 'ok']);
      expect(report.cells[1].run.epochs).toHaveLength(2);
      const runs = await sidecarRuns(report.kernel.id);
      expect(runs.map(run => run.cellId).sort()).toEqual(['r1', 'r2']);
      // Our kernel on their server is shut down at the end.
      const kernels = await fetch(`${base}api/kernels`, { headers: { Authorization: `token ${jupyterToken}` } });
      expect(((await kernels.json()) as { id: string }[]).map(k => k.id)).not.toContain(report.kernel.id);
    } finally {
      server.kill('SIGTERM');
      await exited(server);
    }
  });
});

describe('pnav measure setup', () => {
  it('starts a sidecar when none runs, and stops it afterwards', async () => {
    const ownRuntime = join(workDir, 'runtime-own');
    const notebook = writeNotebook('own.ipynb', [{ id: 'o1', source: '1 + 1' }]);
    const result = await measure([notebook, '--json', 'out/own.json'], { runtime: ownRuntime });
    expect(result.code).toBe(0);
    expect(readJson('out/own.json').sidecar.source).toBe('started');
    expect(readJson('out/own.json').cells[0].run.status).toBe('ok');
    expect(existsSync(join(ownRuntime, 'pnav-sidecar.json'))).toBe(false);
    expect(statSync(ownRuntime).mode & 0o777).toBe(0o700);
  });

  it('rejects a bad option with exit 2, naming it', async () => {
    const result = await measure([join(workDir, 'budget.ipynb'), '--country', 'spain']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('pnav measure: --country: must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP\n');
  });

  it('rejects a notebook that does not exist with exit 2', async () => {
    const result = await measure([join(workDir, 'missing.ipynb')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`pnav measure: cannot read ${join(workDir, 'missing.ipynb')}: ENOENT\n`);
  });
});
