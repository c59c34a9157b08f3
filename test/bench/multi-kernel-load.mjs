#!/usr/bin/env node
/**
 * Many kernels, one sidecar: K real ipykernels (through a real Jupyter server and
 * @jupyterlab/services, the same driver `pnav measure` uses) each run C short `%%pnav` cells at
 * the same time against ONE sidecar. Prints throughput and latencies under that load, and checks
 * what must hold whatever the speed:
 *   - no run lost: every kernel has exactly C closed runs, all `ok`;
 *   - no run mixed up: each run carries its own kernel's id, cell id and label;
 *   - energies consistent: the sum of the runs' attributed shares never exceeds the machine's energy
 *     over the window (read from the sidecar's /metrics counters before and after).
 *
 *   node test/bench/multi-kernel-load.mjs [--kernels 32] [--cells 100] [--concurrency-start 4]
 *
 * Figures go to stdout and to test/bench/results/multi-kernel-load.json. A bench prints; it never
 * fails on a timing. It exits 1 only when a correctness check fails.
 * test/integration/multi-kernel.test.ts runs `runLoad` at a reduced size in CI.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'sidecar', 'dist', 'cli.js');
const MEASURE = join(ROOT, 'sidecar', 'dist', 'cli', 'measure');
const RESULTS = join(ROOT, 'test', 'bench', 'results');

/** A user's sidecar from the built CLI, in its own runtime and data dirs. */
export async function startSidecar({ runtimeDir, dataDir, args = [] }) {
  const env = { ...process.env, PNAV_DATA_DIR: dataDir, PNAV_RUNTIME_DIR: runtimeDir };
  delete env.PNAV_SIDECAR_URL;
  delete env.PNAV_SIDECAR_TOKEN;
  const child = spawn(process.execPath, [CLI, 'sidecar', '--runtime-dir', runtimeDir, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const file = join(runtimeDir, 'pnav-sidecar.json');
  for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise(r => setTimeout(r, 100));
  if (!existsSync(file)) throw new Error(`the sidecar wrote no ${file}`);
  const info = JSON.parse(readFileSync(file, 'utf8'));
  return {
    ...info,
    runtimeDir,
    dataDir,
    runtimeFile: file,
    child,
    stop: () =>
      new Promise(resolve => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

async function api(sidecar, method, path, body) {
  const response = await fetch(`${sidecar.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${sidecar.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Machine energy so far (J, all components, before PUE): the sum of the pnav_energy_joules_total counters. */
async function machineEnergyJ(sidecar) {
  const response = await fetch(`${sidecar.url}/metrics`, { headers: { Authorization: `Bearer ${sidecar.token}` } });
  const text = await response.text();
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^pnav_energy_joules_total\{[^}]*\} (\S+)$/.exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

async function inBatches(items, size, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/** A probe client in this process opening and closing runs over HTTP while the kernels run. */
async function probeRoundTrips(sidecar, until) {
  const roundTripsMs = [];
  while (!until.done) {
    const started = performance.now();
    const { run } = await api(sidecar, 'POST', '/api/v1/runs', { kind: 'manual', label: 'probe' });
    await api(sidecar, 'POST', `/api/v1/runs/${run.id}/close`, { status: 'ok' });
    roundTripsMs.push(performance.now() - started);
    await new Promise(r => setTimeout(r, 20));
  }
  return roundTripsMs;
}

/**
 * Runs the load and returns figures and check results. `log` receives progress lines.
 * @param {{kernels: number, cells: number, startConcurrency?: number, log?: (line: string) => void}} options
 */
export async function runLoad({ kernels, cells, startConcurrency = 4, log = () => {} }) {
  for (const needed of [CLI, join(MEASURE, 'kernel.js')]) {
    if (!existsSync(needed)) throw new Error(`${needed} is missing: run \`npm run build -w sidecar\``);
  }
  const { startJupyterServer } = await import(pathToFileURL(join(MEASURE, 'jupyter-server.js')).href);
  const { KernelDriver } = await import(pathToFileURL(join(MEASURE, 'kernel.js')).href);
  const workDir = mkdtempSync(join(os.tmpdir(), 'pnav-multi-kernel-'));
  const sidecar = await startSidecar({
    runtimeDir: join(workDir, 'runtime'),
    dataDir: join(workDir, 'data'),
    args: ['--sample-interval', '200'],
  });
  // @jupyterlab/services logs every WebSocket it opens; 32 of them would bury the figures.
  const savedConsole = { log: console.log, debug: console.debug };
  console.log = console.debug = () => {};
  let server;
  const drivers = [];
  try {
    server = await startJupyterServer({
      rootDir: workDir,
      env: { PNAV_SIDECAR_URL: sidecar.url, PNAV_SIDECAR_TOKEN: sidecar.token, PNAV_RUNTIME_DIR: sidecar.runtimeDir },
    });
    const startT0 = performance.now();
    const indices = [...Array(kernels).keys()];
    drivers.push(
      ...(await inBatches(indices, startConcurrency, async i => {
        const driver = await KernelDriver.start(server, { kernelName: 'python3', path: `load-${i}.ipynb` });
        const setup = await driver.runSetup('%load_ext pnav_lab');
        if (!setup.ok) throw new Error(`kernel ${i}: ${setup.message}`);
        return driver;
      })),
    );
    log(`${kernels} kernels started in ${((performance.now() - startT0) / 1000).toFixed(1)} s`);

    await new Promise(r => setTimeout(r, 500)); // one more tick, so the counter below precedes every run
    const energyBeforeJ = await machineEnergyJ(sidecar);
    const until = { done: false };
    const probe = probeRoundTrips(sidecar, until);
    const cellWallMs = [];
    const failures = [];
    const loadT0 = performance.now();
    await Promise.all(
      drivers.map(async (driver, k) => {
        for (let c = 0; c < cells; c++) {
          const cellId = `k${k}-c${c}`;
          const started = performance.now();
          const execution = await driver.execute(
            `%%pnav --quiet --no-save --label ${cellId}\nx_${c} = sum(range(${200 + c}))`,
            { cellId },
          );
          cellWallMs.push(performance.now() - started);
          if (execution.status !== 'ok')
            failures.push(`${cellId}: ${execution.status} ${execution.error?.evalue ?? ''}`);
        }
      }),
    );
    const loadS = (performance.now() - loadT0) / 1000;
    until.done = true;
    const probeMs = await probe;
    await new Promise(r => setTimeout(r, 600)); // the sampler's next ticks account the last runs' energy
    const energyAfterJ = await machineEnergyJ(sidecar);

    // ------------------------------------------------------------ checks
    const problems = [...failures];
    let attributedJ = 0;
    let runEnergyJ = 0;
    let withAttribution = 0;
    const runDurationsMs = [];
    for (const [k, driver] of drivers.entries()) {
      const { runs } = await api(sidecar, 'GET', `/api/v1/runs?kernelId=${driver.kernelId}&limit=10000`);
      if (runs.length !== cells) problems.push(`kernel ${k}: ${runs.length} runs, expected ${cells}`);
      const expected = new Set([...Array(cells).keys()].map(c => `k${k}-c${c}`));
      for (const run of runs) {
        if (!expected.delete(run.cellId))
          problems.push(`kernel ${k}: unexpected or duplicate run cellId ${run.cellId}`);
        if (run.label !== run.cellId) problems.push(`run ${run.id}: label ${run.label} for cell ${run.cellId}`);
        if (run.kernelId !== driver.kernelId) problems.push(`run ${run.id}: kernelId ${run.kernelId}`);
        if (run.status !== 'ok') problems.push(`run ${run.id} (${run.cellId}): status ${run.status}`);
        if (run.attribution) {
          withAttribution++;
          attributedJ += run.attribution.energyJ;
          if (run.attribution.energyJ > run.energyJ + 1e-9) {
            problems.push(`run ${run.id}: attributed ${run.attribution.energyJ} J > its window's ${run.energyJ} J`);
          }
        }
        runEnergyJ += run.energyJ;
        runDurationsMs.push(run.durationS * 1000);
      }
      if (expected.size > 0) problems.push(`kernel ${k}: no run for ${[...expected].slice(0, 5).join(', ')}`);
    }
    const machineJ = energyAfterJ - energyBeforeJ;
    if (withAttribution !== kernels * cells) {
      problems.push(`${kernels * cells - withAttribution} runs have no attributed share`);
    }
    if (attributedJ > machineJ * (1 + 1e-9)) {
      problems.push(`attributed shares ${attributedJ.toFixed(3)} J exceed the machine's ${machineJ.toFixed(3)} J`);
    }
    const openLeft = (await api(sidecar, 'GET', '/api/v1/runs?status=open')).runs.length;
    if (openLeft !== 0) problems.push(`${openLeft} runs left open`);

    return {
      kernels,
      cells,
      runs: kernels * cells,
      loadS,
      throughputRunsPerS: (kernels * cells) / loadS,
      cellWallMs: stats(cellWallMs),
      runOpenToCloseMs: stats(runDurationsMs),
      probeOpenCloseRoundTripMs: stats(probeMs),
      energy: { machineJ, attributedJ, sumOfRunWindowsJ: runEnergyJ, attributedShareOfMachine: attributedJ / machineJ },
      problems,
    };
  } finally {
    await Promise.all(drivers.map(driver => driver.shutdown()));
    await server?.stop();
    Object.assign(console, savedConsole);
    await sidecar.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function print(result) {
  const ms = s => `p50 ${s.p50.toFixed(2)} ms · p99 ${s.p99.toFixed(2)} ms · max ${s.max.toFixed(2)} ms (n=${s.n})`;
  const lines = [
    `multi-kernel load: ${result.kernels} kernels × ${result.cells} %%pnav cells = ${result.runs} runs against one sidecar`,
    `  throughput                         ${result.throughputRunsPerS.toFixed(1)} runs/s (${result.loadS.toFixed(1)} s)`,
    `  cell wall time (execute → reply)   ${ms(result.cellWallMs)}`,
    `  run open→close (sidecar clock)     ${ms(result.runOpenToCloseMs)}`,
    `  probe open+close HTTP round trip   ${ms(result.probeOpenCloseRoundTripMs)}`,
    `  machine energy over the window     ${result.energy.machineJ.toFixed(2)} J`,
    `  sum of attributed shares           ${result.energy.attributedJ.toFixed(2)} J (${(result.energy.attributedShareOfMachine * 100).toFixed(1)} % of the machine's)`,
    `  sum of run windows (overlapping)   ${result.energy.sumOfRunWindowsJ.toFixed(2)} J`,
    result.problems.length === 0
      ? '  checks: no run lost, none mixed up, attributed shares within the machine energy — OK'
      : `  CHECKS FAILED (${result.problems.length}):\n${result.problems
          .slice(0, 20)
          .map(p => `    - ${p}`)
          .join('\n')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const kernels = option('--kernels', 32);
  const cells = option('--cells', 100);
  const result = await runLoad({
    kernels,
    cells,
    startConcurrency: option('--concurrency-start', 4),
    log: line => process.stderr.write(`${line}\n`),
  });
  print(result);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, 'multi-kernel-load.json'),
    `${JSON.stringify({ date: new Date().toISOString(), command: `node test/bench/multi-kernel-load.mjs --kernels ${kernels} --cells ${cells}`, machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model }, ...result }, null, 2)}\n`,
  );
  process.exit(result.problems.length === 0 ? 0 : 1);
}
