/**
 * PNAV outputs (CSV, exports, uploads) across components: the BUILT sidecar (`npm run build -w sidecar`), a real
 * IPython `InteractiveShell` from the repository's venv with `pnav_lab` loaded, the built `pnav upload`
 * CLI and `pnav mock-pnav` as the PNAV endpoint. The only fake is the hardware: a powercap sysfs tree
 * whose RAPL counters advance like a 20 W package and 4 W of DRAM (e2e/lab-harness.mjs).
 *
 * Covers: the 40-column CSV and the epochs CSV written by `%%pnav` cells (append, update, backup of a
 * foreign header, --no-save), `track_emissions` online on a function that raises, the durable outbox
 * across a kill -9 of the sidecar, a 401 that stops with the server's message, `pnav upload`
 * (preview, submit, status), `%pnav export` (csv, json, BoAmps valid against the vendored schema),
 * and that the PNAV tokens never reach the sidecar's store, its logs, CSV files or exports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRapl, ROOT, SIDECAR_CLI, VENV_BIN } from '../e2e/lab-harness.mjs';

const PYTHON = join(VENV_BIN, 'python');
const BOAMPS_SCHEMA_DIR = join(ROOT, 'sidecar', 'data', 'boamps-schema');
// calculadorapnav's header (output_methods/emissions_data.py), written out here so the test can fail.
const CALCULADORAPNAV_HEADER =
  'timestamp,type_process,model_id,ref,duration,emissions,emissions_rate,emissions_batch,emissions_epoch,' +
  'cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,energy_batch,n_batch,' +
  'time_batch,energy_epoch,n_epoch,time_epoch,model_size,n_parameters,n_features,country_name,' +
  'country_iso_code,region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,' +
  'gpu_model,ram_total_size,type_ram,on_cloud,pue';
const COLUMNS = CALCULADORAPNAV_HEADER.split(',');
const EPOCHS_HEADER =
  'run_id,epoch,timestamp,duration,cpu_energy,gpu_energy,ram_energy,energy_consumed,emissions,n_batch';
// The mock is started with `--token TOKEN`: a 201 from it proves the bearer was exactly this token.
const TOKEN = 'c0ffee00'.repeat(8);
// Well-formed but not the mock's: a real 401 with the server's own message.
const WRONG_TOKEN = 'badc0de0'.repeat(8);
const MODEL_ID = '5e1f'.repeat(16);
const NOTEBOOK = 'work/train.ipynb';
const J_PER_KWH = 3_600_000;

type Json = Record<string, unknown>;

interface Sidecar {
  url: string;
  token: string;
  pid: number;
  child: ChildProcess;
  output(): string;
}

interface CellResult {
  success: boolean;
  errorType: string | null;
  error: string | null;
  stdout: string;
  stderr: string;
  lastRun: {
    run: Json & { id: string };
    csv: Json | null;
    upload: { id: string; status: string } | null;
    notRecorded?: string | null;
  } | null;
}

interface Upload {
  id: string;
  status: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
  runIds: string[];
  notebookPath: string | null;
}

interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  rawBody: string;
  status: number;
  duplicate: boolean;
  idempotencyKey: string | null;
}

let tmp: string;
let rapl: { sysfsRoot: string; stop(): void };
let sidecar: Sidecar;
let mock: { url: string; child: ChildProcess };
let shell: IPythonShell;
const started: ChildProcess[] = [];
const sidecarOutputs: (() => string)[] = [];

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const dir = (...parts: string[]) => join(tmp, ...parts);
const py = (value: string) => JSON.stringify(value); // a Python string literal (ASCII only here)

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PNAV_') && key !== 'JPY_SESSION_NAME') env[key] = value;
  }
  // No user or project settings of the machine running the tests.
  return { ...env, XDG_CONFIG_HOME: dir('config'), HOME: dir('home'), ...extra };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  child.kill(signal);
  await exited(child);
  clearTimeout(timer);
}

function track(child: ChildProcess): ChildProcess {
  started.push(child);
  return child;
}

/** `pnav sidecar` on port 0; resolves once its own runtime file (its pid) is there and /healthz answers. */
async function startSidecar(name: string): Promise<Sidecar> {
  const runtimeDir = dir(name, 'runtime');
  const dataDir = dir(name, 'data');
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  mkdirSync(dataDir, { recursive: true });
  const child = track(
    spawn(
      process.execPath,
      [
        SIDECAR_CLI,
        'sidecar',
        '--port',
        '0',
        '--runtime-dir',
        runtimeDir,
        '--data-dir',
        dataDir,
        '--sysfs-root',
        rapl.sysfsRoot,
        '--nvidia-smi',
        dir('no-nvidia-smi'),
        '--country',
        'ESP',
        '--sample-interval',
        '100',
      ],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  sidecarOutputs.push(() => output);
  const file = join(runtimeDir, 'pnav-sidecar.json');
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the sidecar exited with ${child.exitCode}: ${output}`);
    try {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { url: string; token: string; pid: number };
      if (info.pid === child.pid && (await fetch(`${info.url}/healthz`).then(r => r.status)) !== 0) {
        return { ...info, child, output: () => output };
      }
    } catch {
      // not written yet, or a stale file of a killed sidecar
    }
    await sleep(100);
  }
  throw new Error(`the sidecar did not start within 30 s: ${output}`);
}

async function api<T = Json>(target: Sidecar, method: string, path: string, body?: unknown) {
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${target.token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function getRun(id: string, target = sidecar) {
  const { status, body } = await api<{ run: Json & { epochs: Json[] } }>(target, 'GET', `/api/v1/runs/${id}`);
  expect(status).toBe(200);
  return body.run;
}

async function notebookRuns(typeProcess?: string) {
  const query = new URLSearchParams({ notebookPath: NOTEBOOK });
  const { body } = await api<{ runs: (Json & { id: string; startedAt: string })[] }>(
    sidecar,
    'GET',
    `/api/v1/runs?${query}`,
  );
  return body.runs
    .filter(run => run.status !== 'open' && (!typeProcess || run.typeProcess === typeProcess))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Polls GET /uploads/:id until `done(upload)`; the last state otherwise. */
async function waitForUpload(target: Sidecar, id: string, done: (u: Upload) => boolean, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  let upload: Upload | undefined;
  while (Date.now() < until) {
    const { status, body } = await api<{ upload: Upload }>(target, 'GET', `/api/v1/uploads/${id}`);
    expect(status).toBe(200);
    upload = body.upload;
    if (done(upload)) return upload;
    await sleep(100);
  }
  return upload!;
}

/** `pnav mock-pnav --port 0 --token TOKEN`; the URL is read from its first line of stdout. */
async function startMock(): Promise<{ url: string; child: ChildProcess }> {
  const child = track(
    spawn(process.execPath, [SIDECAR_CLI, 'mock-pnav', '--port', '0', '--token', TOKEN], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mock-pnav did not start: ${output}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /^mock PNAV listening on (http:\/\/127\.0\.0\.1:\d+\/) /.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', code => reject(new Error(`mock-pnav exited (${code}): ${output}`)));
  });
  return { url, child };
}

async function mockControl(body: Json): Promise<void> {
  const response = await fetch(`${mock.url}__control`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

async function mockReceived(): Promise<Received[]> {
  return ((await (await fetch(`${mock.url}__received`)).json()) as { received: Received[] }).received;
}

/**
 * A real IPython InteractiveShell in a child Python process with `pnav_lab` loaded. Each cell's
 * stdout/stderr are captured apart from the answer, which goes back as one JSON line.
 */
const SHELL_DRIVER = `
import contextlib, io, json, sys
from IPython.core.interactiveshell import InteractiveShell
answers = sys.stdout
shell = InteractiveShell.instance()
shell.run_line_magic('colors', 'nocolor')
shell.run_line_magic('load_ext', 'pnav_lab')
import pnav_lab
answers.write('@@driver ' + json.dumps({'ready': True}) + '\\n')
answers.flush()
for line in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = shell.run_cell(json.loads(line)['code'], store_history=True)
    error = result.error_before_exec or result.error_in_exec
    answers.write('@@driver ' + json.dumps({
        'success': result.success,
        'errorType': type(error).__name__ if error is not None else None,
        'error': str(error) if error is not None else None,
        'stdout': out.getvalue(),
        'stderr': err.getvalue(),
        'lastRun': pnav_lab.last_run(),
    }) + '\\n')
    answers.flush()
`;

class IPythonShell {
  private child: ChildProcess;
  private buffer = '';
  private stray = '';
  private waiting: ((answer: Json) => void) | null = null;
  private answers: Json[] = [];

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.child = track(spawn(PYTHON, ['-c', SHELL_DRIVER], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] }));
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.buffer += chunk;
      let newline = this.buffer.indexOf('\n');
      while (newline >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        if (line.startsWith('@@driver ')) this.deliver(JSON.parse(line.slice('@@driver '.length)) as Json);
        else this.stray += `${line}\n`;
        newline = this.buffer.indexOf('\n');
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stray += chunk;
    });
  }

  private deliver(answer: Json): void {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(answer);
    } else this.answers.push(answer);
  }

  private next(what: string, timeoutMs = 60_000): Promise<Json> {
    const queued = this.answers.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no answer from IPython for ${what} within ${timeoutMs} ms:\n${this.stray.slice(-3000)}`));
      }, timeoutMs);
      const onExit = () => reject(new Error(`IPython exited during ${what}:\n${this.stray.slice(-3000)}`));
      this.child.once('exit', onExit);
      this.waiting = answer => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(answer);
      };
    });
  }

  ready(): Promise<Json> {
    return this.next('start-up');
  }

  async run(code: string): Promise<CellResult> {
    this.child.stdin!.write(`${JSON.stringify({ code })}\n`);
    return (await this.next(code.split('\n')[0]!)) as unknown as CellResult;
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    await stop(this.child);
  }
}

/** The `pnav` CLI (built), with the sidecar found through PNAV_RUNTIME_DIR only. */
function pnav(args: string[], env: NodeJS.ProcessEnv) {
  const child = track(spawn(process.execPath, [SIDECAR_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  return exited(child).then(() => ({ code: child.exitCode, stdout, stderr }));
}

function runPython(code: string, env: NodeJS.ProcessEnv) {
  const child = track(spawn(PYTHON, ['-c', code], { cwd: dir('work'), env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  return exited(child).then(() => ({ code: child.exitCode, stdout, stderr }));
}

function readCsv(path: string): { lines: string[]; rows: Record<string, string>[] } {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return { lines: text.slice(0, -1).split('\n'), rows: parse(text, { columns: true }) as Record<string, string>[] };
}

/** `actual` equals `expected` to 9 significant digits (both come from the same doubles, printed by repr). */
function expectSame(actual: number | string | undefined, expected: number): void {
  // A `pass` cell can fall between two updates of the fake counters (every 50 ms): 0 J, exactly.
  if (expected === 0) expect(Number(actual)).toBe(0);
  else expect(Number(actual) / expected).toBeCloseTo(1, 9);
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry => join(entry.parentPath, entry.name));
}

function boampsValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const schemas = readdirSync(BOAMPS_SCHEMA_DIR)
    .filter(name => name.endsWith('_schema.json'))
    .map(name => JSON.parse(readFileSync(join(BOAMPS_SCHEMA_DIR, name), 'utf8')) as { id: string });
  for (const schema of schemas) ajv.addSchema(schema); // registered under their absolute `id`: offline
  return ajv.getSchema(schemas.find(schema => schema.id.endsWith('/report_schema.json'))!.id)!;
}

beforeAll(async () => {
  for (const needed of [SIDECAR_CLI, PYTHON]) {
    if (!existsSync(needed))
      throw new Error(`${needed} is missing: run \`npm run build\` (node test/tools/bootstrap.mjs)`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'pnav-outputs-test-'));
  for (const name of ['work', 'out', 'out-nosave', 'out-old', 'out-decorator', 'out-restart', 'exports', 'ipython'])
    mkdirSync(dir(name), { recursive: true });
  rapl = fakeRapl(tmp);
  [sidecar, mock] = await Promise.all([startSidecar('sidecar-a'), startMock()]);
  shell = new IPythonShell(
    dir('work'),
    cleanEnv({
      PNAV_RUNTIME_DIR: dir('sidecar-a', 'runtime'),
      PNAV_SIDECAR_CMD: 'false', // never start a sidecar of its own: a discovery failure must show
      PNAV_TOKEN: WRONG_TOKEN, // what `%pnav upload` reads; the mock only accepts TOKEN
      JPY_SESSION_NAME: NOTEBOOK, // as JupyterLab sets it for the notebook's kernel
      IPYTHONDIR: dir('ipython'),
      PYTHONDONTWRITEBYTECODE: '1',
    }),
  );
  await shell.ready();
});

afterAll(async () => {
  await shell?.close();
  await Promise.all(started.map(child => stop(child)));
  rapl?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('%%pnav cells write calculadorapnav CSV files', () => {
  let firstRunId: string;
  let firstLines: string[];

  it('a training cell with 3 marked epochs: one 40-column row whose per-epoch figures are the means of the measured epochs', async () => {
    const cell = await shell.run(
      [
        `%%pnav --type training --epochs 3 --output-dir ${dir('out')}`,
        'import time',
        'import pnav_lab',
        'time.sleep(0.6)  # work outside the epochs: total / n_epoch would count it',
        'for epoch in pnav_lab.epochs(range(3)):',
        '    time.sleep(0.3)',
      ].join('\n'),
    );
    expect(cell.error).toBeNull();
    expect(cell.success).toBe(true);
    expect(cell.stderr).toBe('');
    expect(cell.stdout).toMatch(/^pnav: .* — cpu .* measured \(rapl\).* @ ESP \d+ g\/kWh\n$/);
    const { run: closed, csv } = cell.lastRun!;
    firstRunId = closed.id;
    expect(csv).toEqual({
      path: dir('out', 'emissions_training.csv'),
      epochsPath: dir('out', 'emissions_training_epochs.csv'),
      // How each figure was obtained: the 40 columns cannot say it, the companion file does.
      methodsPath: dir('out', 'emissions_training_methods.csv'),
      error: null,
    });

    const run = await getRun(firstRunId);
    expect(run).toMatchObject({ status: 'ok', typeProcess: 'training', nEpoch: 3, notebookPath: NOTEBOOK });
    expect((run.energy as { cpu: Json }).cpu).toMatchObject({ method: 'rapl', measured: true, included: true });
    const epochs = run.epochs as {
      index: number;
      status: string;
      durationS: number;
      facilityEnergyJ: number;
      emissionsG: number;
    }[];
    expect(epochs.map(e => [e.index, e.status])).toEqual([
      [0, 'ok'],
      [1, 'ok'],
      [2, 'ok'],
    ]);

    const { lines, rows } = readCsv(dir('out', 'emissions_training.csv'));
    expect(lines[0]).toBe(CALCULADORAPNAV_HEADER);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(Object.keys(row)).toEqual(COLUMNS);
    expect(row).toMatchObject({ type_process: 'training', n_epoch: '3', country_iso_code: 'ESP', on_cloud: 'N' });
    expect(row.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expectSame(row.duration, run.durationS as number);
    expectSame(row.energy_consumed, (run.facilityEnergyJ as number) / J_PER_KWH);
    expectSame(row.emissions, (run.emissionsG as number) / 1000);
    // The issue's rule: the mean of the measured epochs, not calculadorapnav's total / n_epoch.
    expectSame(row.energy_epoch, mean(epochs.map(e => e.facilityEnergyJ)) / J_PER_KWH);
    expectSame(row.time_epoch, mean(epochs.map(e => e.durationS)));
    expectSame(row.emissions_epoch, mean(epochs.map(e => e.emissionsG)) / 1000);
    expect(Number(row.energy_epoch)).toBeLessThan((Number(row.energy_consumed) / 3) * 0.9);
    firstLines = lines;

    const perEpoch = readCsv(dir('out', 'emissions_training_epochs.csv'));
    expect(perEpoch.lines[0]).toBe(EPOCHS_HEADER);
    expect(perEpoch.rows.map(r => [r.run_id, r.epoch])).toEqual([
      [firstRunId, '0'],
      [firstRunId, '1'],
      [firstRunId, '2'],
    ]);
    perEpoch.rows.forEach((r, i) => {
      expectSame(r.duration, epochs[i]!.durationS);
      expectSame(r.energy_consumed, epochs[i]!.facilityEnergyJ / J_PER_KWH);
      expectSame(r.emissions, epochs[i]!.emissionsG / 1000);
    });
  });

  it('a second cell appends its row after the first, byte for byte; without marked epochs it divides by n_epoch', async () => {
    const cell = await shell.run(
      `%%pnav --type training --epochs 2 --output-dir ${dir('out')} --quiet\nimport time\ntime.sleep(0.3)`,
    );
    expect(cell.success).toBe(true);
    expect(cell.stdout).toBe('');
    const { lines, rows } = readCsv(dir('out', 'emissions_training.csv'));
    expect(lines).toHaveLength(3);
    expect(lines.slice(0, 2)).toEqual(firstLines);
    const row = rows[1]!;
    const run = await getRun(cell.lastRun!.run.id);
    expect(run.epochs).toEqual([]);
    expectSame(row.energy_consumed, (run.facilityEnergyJ as number) / J_PER_KWH);
    // calculadorapnav's rule where no epoch was measured (training): total / n_epoch.
    expectSame(row.energy_epoch, Number(row.energy_consumed) / 2);
    expectSame(row.time_epoch, Number(row.duration) / 2);
    expect(row.n_epoch).toBe('2');
    expect(readCsv(dir('out', 'emissions_training_epochs.csv')).rows).toHaveLength(3);
  });

  it('--on-csv-write update: a new run has no row yet, so it is added; earlier rows stay; the index knows every row', async () => {
    const cell = await shell.run(
      [
        `%%pnav --type training --on-csv-write update --output-dir ${dir('out')} --quiet`,
        'import time, pnav_lab',
        'for epoch in pnav_lab.epochs(range(1)):',
        '    time.sleep(0.2)',
      ].join('\n'),
    );
    expect(cell.success).toBe(true);
    const { lines } = readCsv(dir('out', 'emissions_training.csv'));
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 2)).toEqual(firstLines);
    const perEpoch = readCsv(dir('out', 'emissions_training_epochs.csv'));
    expect(perEpoch.rows.map(r => r.run_id)).toEqual([firstRunId, firstRunId, firstRunId, cell.lastRun!.run.id]);
    // `update` finds a run's rows through this index (the 40 columns carry no run id).
    // An append-only JSON-lines file: `add` entries extend a run's rows, `set` entries replace them.
    const index: { rows: Record<string, string[]> } = { rows: {} };
    for (const line of readFileSync(dir('out', '.emissions_training.csv.pnav-index.jsonl'), 'utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { key: string; op: 'add' | 'set'; rows: string[] };
      index.rows[entry.key] = entry.op === 'add' ? [...(index.rows[entry.key] ?? []), ...entry.rows] : entry.rows;
    }
    const hash = (line: string) => createHash('sha256').update(line).digest('hex');
    const ids = (await notebookRuns('training')).map(run => run.id);
    expect(index.rows).toEqual({
      [ids[0]!]: [hash(lines[1]!)],
      [ids[1]!]: [hash(lines[2]!)],
      [ids[2]!]: [hash(lines[3]!)],
    });
  });

  it('a file with a different header is kept under the backup name and a new file is started', async () => {
    const foreign = 'timestamp,project_name,run_id,duration,emissions\n2024-01-01T00:00:00,x,1,1.0,0.1\n';
    writeFileSync(dir('out-old', 'emissions_training.csv'), foreign);
    const cell = await shell.run(`%%pnav --type training --output-dir ${dir('out-old')} --quiet\npass`);
    expect(cell.success).toBe(true);
    expect(readFileSync(dir('out-old', 'emissions_training.csv.bak'), 'utf8')).toBe(foreign);
    const { lines } = readCsv(dir('out-old', 'emissions_training.csv'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(CALCULADORAPNAV_HEADER);
  });

  it('--no-save writes nothing, and the run is still recorded', async () => {
    const before = readFileSync(dir('out', 'emissions_training.csv'), 'utf8');
    const cell = await shell.run(`%%pnav --type training --no-save --output-dir ${dir('out-nosave')} --quiet\npass`);
    expect(cell.success).toBe(true);
    expect(cell.lastRun!.csv).toBeNull();
    expect(readdirSync(dir('out-nosave'))).toEqual([]);
    expect(readdirSync(dir('work')).filter(name => name.endsWith('.csv'))).toEqual([]);
    expect(readFileSync(dir('out', 'emissions_training.csv'), 'utf8')).toBe(before);
    expect(await getRun(cell.lastRun!.run.id)).toMatchObject({ status: 'ok', typeProcess: 'training' });
  });
});

describe('track_emissions online on a function that raises', () => {
  const raising = (recordFailed: boolean) =>
    [
      'import time',
      'from pnav_lab import track_emissions',
      '',
      `@track_emissions(type_process='inference', token=${py(TOKEN)}, model_id=${py(MODEL_ID)},`,
      `                 endpoint_url=${py(`${mock.url}v1/emissions?source=pnav-lab-test`)},`,
      `                 output_dir=${py(dir('out-decorator'))}, country_iso_code='ESP', record_failed=${recordFailed ? 'True' : 'False'})`,
      'def predict(batch):',
      '    time.sleep(0.2)',
      "    raise RuntimeError(f'model exploded on batch {batch}')",
      '',
      'predict(7)',
    ].join('\n');

  it('as calculadorapnav: the exception propagates, no row, no POST; the run stays in the ledger as error', async () => {
    await mockControl({ reset: true });
    const cell = await shell.run(raising(false));
    expect(cell.success).toBe(false);
    expect(cell.error).toBe('model exploded on batch 7');
    const { run, csv, upload } = cell.lastRun!;
    expect(run).toMatchObject({ status: 'error', error: 'RuntimeError: model exploded on batch 7' });
    expect([csv, upload]).toEqual([null, null]);
    expect(cell.lastRun!.notRecorded).toBe(
      'the run ended with an error: no PNAV CSV row and no submission (recordFailed records it anyway)',
    );
    expect(existsSync(dir('out-decorator', 'emissions_inference.csv'))).toBe(false);
    expect(await mockReceived()).toHaveLength(0);
    expect(await getRun(run.id)).toMatchObject({ status: 'error' });
  });

  it('with record_failed=True: the row is written, and the mock receives exactly one POST with the 40 keys', async () => {
    await mockControl({ reset: true });
    const cell = await shell.run(raising(true));
    expect(cell.success).toBe(false);
    expect(cell.errorType).toBe('RuntimeError');
    expect(cell.error).toBe('model exploded on batch 7');
    expect(cell.stdout).toContain('RuntimeError: model exploded on batch 7');
    expect(cell.stdout).toMatch(/in predict\b/);
    const { run, csv, upload } = cell.lastRun!;
    expect(run).toMatchObject({
      status: 'error',
      typeProcess: 'inference',
      error: 'RuntimeError: model exploded on batch 7',
    });
    expect(csv).toMatchObject({ path: dir('out-decorator', 'emissions_inference.csv'), error: null });
    expect(upload).toMatchObject({ id: expect.any(String) });

    const { lines, rows } = readCsv(dir('out-decorator', 'emissions_inference.csv'));
    expect(lines[0]).toBe(CALCULADORAPNAV_HEADER);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type_process: 'inference', model_id: MODEL_ID });

    const sent = await waitForUpload(sidecar, upload!.id, u => u.status === 'sent' || u.status === 'failed');
    expect(sent).toMatchObject({ status: 'sent', attempts: 1, lastError: null, runIds: [run.id] });
    expect(Object.keys(sent)).not.toContain('token');

    const received = await mockReceived();
    expect(received).toHaveLength(1);
    const request = received[0]!;
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/emissions?source=pnav-lab-test',
      status: 201, // the mock accepts only TOKEN: the bearer was exactly it
      duplicate: false,
      idempotencyKey: upload!.id,
    });
    expect(request.headers.authorization).toBe('Bearer <redacted: 64 chars, 64 lowercase hex>');
    expect(request.headers['idempotency-key']).toBe(upload!.id);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(request.rawBody) as Json;
    expect(Object.keys(body)).toEqual(COLUMNS);
    expect(body).toMatchObject({ type_process: 'inference', model_id: MODEL_ID, country_iso_code: 'ESP' });
    expect(body.energy_consumed).toBe(Number(rows[0]!.energy_consumed));
    expect(body.duration).toBe(Number(rows[0]!.duration));

    // The token is kept only while the send needs it: nowhere in the store, the logs or the CSV now.
    for (const file of filesUnder(dir('sidecar-a', 'data'))) {
      expect(readFileSync(file).includes(TOKEN), file).toBe(false);
    }
    expect(sidecar.output()).not.toContain(TOKEN);
    expect(readFileSync(dir('out-decorator', 'emissions_inference.csv'), 'utf8')).not.toContain(TOKEN);
    expect(JSON.stringify(cell.lastRun)).not.toContain(TOKEN);
  });
});

describe('the durable outbox across a real restart', () => {
  it('a record queued while the endpoint fails survives kill -9 and is delivered once, with the same Idempotency-Key', async () => {
    await mockControl({ reset: true });
    await mockControl({ failNext: 1000, status: 503, retryAfterS: 1 });
    const first = await startSidecar('sidecar-b');
    const script = [
      'import json, time, pnav_lab',
      'from pnav_lab import track_emissions',
      `@track_emissions(type_process='training', token=${py(TOKEN)}, model_id=${py(MODEL_ID)},`,
      `                 endpoint_url=${py(`${mock.url}v1/emissions`)}, output_dir=${py(dir('out-restart'))})`,
      'def train():',
      '    time.sleep(0.2)',
      'train()',
      "print(json.dumps(pnav_lab.last_run()['upload']))",
    ].join('\n');
    const python = await runPython(
      script,
      cleanEnv({ PNAV_RUNTIME_DIR: dir('sidecar-b', 'runtime'), PNAV_SIDECAR_CMD: 'false' }),
    );
    expect(python.code).toBe(0);
    const { id } = JSON.parse(python.stdout) as { id: string };
    // The decorator waited for the first outcome and said it, with the outbox id: never silent.
    expect(python.stderr).toMatch(
      new RegExp(
        `^\\[pnav_lab WARNING @ \\d\\d:\\d\\d:\\d\\d\\] PNAV submission ${id} queued for retry \\(HTTP 503: mock PNAV told to fail with 503\\); the sidecar keeps trying, see \`pnav upload --status\`\\.\\n$`,
      ),
    );

    const retrying = await waitForUpload(first, id, u => u.status === 'retrying' && u.attempts >= 1);
    expect(retrying).toMatchObject({ status: 'retrying', lastError: 'HTTP 503: mock PNAV told to fail with 503' });
    expect(retrying.nextAttemptAt).not.toBeNull();
    const runId = retrying.runIds[0]!;

    await stop(first.child, 'SIGKILL');
    expect(first.child.signalCode).toBe('SIGKILL');
    await mockControl({ failNext: 0 });
    const second = await startSidecar('sidecar-b');
    expect(second.pid).not.toBe(first.pid);

    const sent = await waitForUpload(second, id, u => u.status === 'sent' || u.status === 'failed');
    expect(sent).toMatchObject({ status: 'sent', lastError: null });
    expect(sent.attempts).toBeGreaterThanOrEqual(2);
    expect(await getRun(runId, second)).toMatchObject({ status: 'ok', typeProcess: 'training' });
    await sleep(1500); // a second delivery would be due within Retry-After (1 s)
    const received = await mockReceived();
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(new Set(received.map(r => r.idempotencyKey))).toEqual(new Set([id]));
    expect(received.filter(r => r.status === 201)).toHaveLength(1);
    expect(received.filter(r => r.status !== 201 && r.status !== 503)).toEqual([]);
    expect(received.at(-1)!.status).toBe(201);
    for (const file of filesUnder(dir('sidecar-b', 'data'))) {
      expect(readFileSync(file).includes(TOKEN), file).toBe(false);
    }
    await stop(second.child);
  });
});

describe('a 401 from PNAV stops the upload with the server message', () => {
  it('`%pnav upload` with a token the endpoint refuses: failed after one attempt, shown by the API and `%pnav upload --status`', async () => {
    await mockControl({ reset: true });
    const measured = await shell.run('%%pnav --type inference --no-save --quiet\nsum(range(100_000))');
    expect(measured.success).toBe(true);
    const endpoint = `${mock.url}v1/emissions`;
    const queued = await shell.run(`%pnav upload --type inference --endpoint-url ${endpoint} --model-id ${MODEL_ID}`);
    expect(queued.success).toBe(true);
    // The failed decorator runs are left out and named; the first outcome is shown, with what to fix.
    const match =
      /^left out 2 failed or interrupted run\(s\): \S+, \S+ \(--record-failed includes them\)\nPNAV submission (\S+) rejected: HTTP 401: invalid or missing token\. To fix: the PNAV server refused the token: check token= \/ PNAV_TOKEN \(the token of the provider profile on the PNAV web site\)\.\n$/.exec(
        queued.stdout,
      );
    expect(match, queued.stdout + queued.stderr).not.toBeNull();
    const id = match![1]!;

    const failed = await waitForUpload(sidecar, id, u => u.status === 'sent' || u.status === 'failed');
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'HTTP 401: invalid or missing token',
      nextAttemptAt: null,
      notebookPath: NOTEBOOK,
    });
    // Notebook-to-PNAV: every closed inference run of the notebook that did not fail, oldest first.
    const inference = await notebookRuns('inference');
    expect(inference.map(run => run.status)).toEqual(['error', 'error', 'ok']);
    expect(failed.runIds).toEqual(inference.filter(run => run.status === 'ok').map(run => run.id));

    const status = await shell.run('%pnav upload --status');
    expect(status.success).toBe(true);
    expect(status.stdout).toContain(
      `${id.padEnd(40)} failed    attempts 1 — HTTP 401: invalid or missing token (to fix: the PNAV server refused the token: check token= / PNAV_TOKEN (the token of the provider profile on the PNAV web site))\n`,
    );
    expect(status.stdout).not.toContain(WRONG_TOKEN);

    await sleep(300);
    const received = await mockReceived();
    expect(received.map(r => [r.idempotencyKey, r.status])).toEqual([[id, 401]]);
  });
});

describe('`pnav upload` on the command line and `%pnav export`', () => {
  const cliEnv = () => cleanEnv({ PNAV_RUNTIME_DIR: dir('sidecar-a', 'runtime') });
  let preview: { record: Json; runIds: string[] };

  it('--preview-only shows the notebook record: the training runs aggregated into the 40 keys', async () => {
    const training = await notebookRuns('training');
    expect(training).toHaveLength(5);
    const json = await pnav(
      ['upload', '--notebook', NOTEBOOK, '--type', 'training', '--model-id', MODEL_ID, '--preview-only', '--json'],
      cliEnv(),
    );
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    preview = JSON.parse(json.stdout) as typeof preview;
    expect(preview.runIds).toEqual(training.map(run => run.id));
    expect(Object.keys(preview.record)).toEqual(COLUMNS);
    // Summed: --epochs 3, --epochs 2, one marked epoch without --epochs, then two cells with neither.
    expect(preview.record).toMatchObject({ type_process: 'training', model_id: MODEL_ID, n_epoch: 3 + 2 + 1 + 0 + 0 });
    expectSame(
      preview.record.energy_consumed as number,
      sum(training.map(r => r.facilityEnergyJ as number)) / J_PER_KWH,
    );
    expectSame(preview.record.duration as number, sum(training.map(r => r.durationS as number)));

    const text = await pnav(['upload', '--notebook', NOTEBOOK, '--preview-only'], cliEnv());
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('PNAV record from 5 training run(s):');
    expect(lines[1]).toMatch(/^country ESP Spain \(from: \S+\), 125\.6 g CO2eq\/kWh: calculadorapnav 1\.0\.2 factors/);
    expect(lines.slice(2).map(line => line.trim().split(/\s+/)[0])).toEqual(COLUMNS);
  });

  it('submits through the outbox, waits for it, and shows it with --status', async () => {
    await mockControl({ reset: true });
    const endpoint = `${mock.url}v1/emissions`;
    const env = { ...cliEnv(), PNAV_TOKEN: TOKEN };
    const submit = await pnav(
      ['upload', '--notebook', NOTEBOOK, '--endpoint', endpoint, '--model-id', MODEL_ID, '--wait', '15'],
      env,
    );
    expect(submit.stderr).toBe('');
    expect(submit.code).toBe(0);
    const line = submit.stdout.split('\n').find(l => l.includes(endpoint))!;
    const match = new RegExp(`^(\\S+)  sent       training  5 run\\(s\\)  attempts 1  ${endpoint}$`).exec(line);
    expect(match, submit.stdout).not.toBeNull();
    const id = match![1]!;

    const received = await mockReceived();
    expect(received.map(r => [r.idempotencyKey, r.status])).toEqual([[id, 201]]);
    expect(JSON.parse(received[0]!.rawBody)).toEqual(preview.record);

    const list = await pnav(['upload', '--status', '--notebook', NOTEBOOK], cliEnv());
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${id}  sent       training  5 run(s)  attempts 1  ${endpoint}\n`);
    expect(list.stdout).toMatch(
      / failed {5}inference {2}1 run\(s\) {2}attempts 1 {2}\S+\n {4}HTTP 401: invalid or missing token\n {4}to fix: the PNAV server refused the token/,
    );
    const one = await pnav(['upload', '--status', id, '--json'], cliEnv());
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ id, status: 'sent', attempts: 1, typeProcess: 'training' });
    expect(one.stdout + list.stdout + submit.stdout).not.toContain(TOKEN);
  });

  it('says so, with exit code 2, when no sidecar runs in PNAV_RUNTIME_DIR', async () => {
    mkdirSync(dir('empty-runtime'), { recursive: true });
    const result = await pnav(
      ['upload', '--status'],
      cleanEnv({ PNAV_RUNTIME_DIR: dir('empty-runtime'), PNAV_TOKEN: TOKEN }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'pnav upload: no running sidecar found (start Jupyter with PNAV Lab, or `pnav sidecar`, or set PNAV_SIDECAR_URL and PNAV_SIDECAR_TOKEN)\n',
    );
  });

  it('%pnav export writes PNAV CSV (runs that did not fail) and JSON (every closed run) of the notebook', async () => {
    const closed = await notebookRuns();
    expect(closed).toHaveLength(8);
    const recordable = closed.filter(run => run.status === 'ok');
    expect(recordable).toHaveLength(6); // the two raising decorator runs are in the JSON only
    const csvCell = await shell.run(`%pnav export --format csv ${dir('exports', 'nb.csv')}`);
    expect(csvCell.success).toBe(true);
    expect(csvCell.stdout).toMatch(new RegExp(`^wrote ${dir('exports', 'nb.csv')} \\(\\d+ bytes, csv\\)\\n$`));
    const { lines, rows } = readCsv(dir('exports', 'nb.csv'));
    expect(lines[0]).toBe(CALCULADORAPNAV_HEADER);
    expect(rows.map(r => r.type_process)).toEqual(recordable.map(run => run.typeProcess));

    const jsonCell = await shell.run(`%pnav export --format json ${dir('exports', 'nb.json')}`);
    expect(jsonCell.success).toBe(true);
    const records = JSON.parse(readFileSync(dir('exports', 'nb.json'), 'utf8')) as Json[];
    expect(records).toHaveLength(closed.length);
    for (const [i, record] of records.entries()) {
      // calculadorapnav's 40 fields, then how each figure was obtained.
      expect(Object.keys(record)).toEqual([...COLUMNS, 'methods']);
      expectSame(record.energy_consumed as number, (closed[i]!.facilityEnergyJ as number) / J_PER_KWH);
    }
  });

  it('%pnav export --format boamps: one process type per report, valid against the BoAmps schema (draft-04)', async () => {
    const mixed = await shell.run(`%pnav export --format boamps ${dir('exports', 'mixed.json')}`);
    expect(mixed.success).toBe(false);
    expect(mixed.stderr + mixed.stdout).toContain(
      'typeProcess: a BoAmps report covers one process type; choose training or inference',
    );
    expect(existsSync(dir('exports', 'mixed.json'))).toBe(false);

    const cell = await shell.run(`%pnav export --format boamps --type training ${dir('exports', 'train.boamps.json')}`);
    expect(cell.success).toBe(true);
    const report = JSON.parse(readFileSync(dir('exports', 'train.boamps.json'), 'utf8')) as {
      task: { taskStage: string };
      measures: { powerConsumption: number; measurementDuration: number; cpuTrackingMode: string }[];
      environment: { country: string };
    };
    const validate = boampsValidator();
    const valid = validate(report);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const training = await notebookRuns('training');
    expect(report.task.taskStage).toBe('training');
    expect(report.environment.country).toBe('Spain');
    expect(report.measures[0]!.cpuTrackingMode).toBe('rapl');
    expectSame(report.measures[0]!.powerConsumption, sum(training.map(r => r.facilityEnergyJ as number)) / J_PER_KWH);
    expectSame(report.measures[0]!.measurementDuration, sum(training.map(r => r.durationS as number)));
  });
});

describe('PNAV tokens stay secret', () => {
  it('no token in any sidecar store, log, CSV or export; outbox files are private', async () => {
    const files = [...filesUnder(dir('sidecar-a', 'data')), ...filesUnder(dir('sidecar-b', 'data'))];
    const outputs = ['out', 'out-old', 'out-decorator', 'out-restart', 'exports'].flatMap(name =>
      filesUnder(dir(name)),
    );
    expect(outputs.length).toBeGreaterThan(8);
    for (const file of [...files, ...outputs]) {
      const bytes = readFileSync(file);
      expect(bytes.includes(TOKEN) || bytes.includes(WRONG_TOKEN), file).toBe(false);
    }
    for (const output of sidecarOutputs) {
      expect(output()).not.toContain(TOKEN);
      expect(output()).not.toContain(WRONG_TOKEN);
    }
    const outbox = files.filter(file => file.includes('/outbox/'));
    expect(outbox.length).toBeGreaterThanOrEqual(4);
    for (const file of outbox) expect(statSync(file).mode & 0o777, file).toBe(0o600);
  });
});
