/**
 * Against the real thing: installs `calculadorapnav` from PyPI into a throw-away venv, runs
 * it offline on a tiny function and online against `pnav mock-pnav`, and compares its CSV
 * (header, column order, value types) and its HTTP request (method, headers, key order,
 * value types) with what the real sidecar produces. Skipped, loudly, when PyPI is unreachable.
 *
 * calculadorapnav 1.0.2 imports torch and tensorflow at module level (so a machine without them cannot import it)
 * although our tiny function uses neither; installing them costs gigabytes, so by default they
 * are replaced by import stand-ins (classes only, never called for a function without a model).
 * PNAV_COMPAT_FULL_INSTALL=1 installs the complete dependency set instead.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DRIVER = path.join(ROOT, 'test/compat/calculadorapnav-driver.py');
const CLI = path.join(ROOT, 'sidecar/dist/cli.js');
const TOKEN = '0123456789abcdef'.repeat(4);
const MODEL_ID = 'ab'.repeat(32);
const work = mkdtempSync(path.join(tmpdir(), 'pnav-compat-'));
const children: ChildProcess[] = [];

const LIGHT_DEPS = [
  'pandas>=1.5,<2',
  'numpy>=1.25,<2',
  'psutil>=5.8,<6',
  'py-cpuinfo>=7,<8',
  'pydantic>=1.8,<2.11.5',
  'rapidfuzz>=1.7,<3.11',
  'requests>=2.25,<3',
  'arrow>=1.2.3,<2',
  'pynvml>=11,<12',
];

const STUBS: Record<string, string> = {
  'torch/__init__.py': 'from . import nn\n',
  'torch/nn/__init__.py':
    'class Module: pass\n' +
    ['Linear', 'Conv1d', 'Conv2d', 'Conv3d', 'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'LSTM', 'GRU', 'RNN']
      .map(n => `class ${n}(Module): pass\n`)
      .join(''),
  'tensorflow/__init__.py': 'from . import keras\n',
  'tensorflow/keras/__init__.py': 'from . import layers, models\n',
  'tensorflow/keras/models.py': 'class Model: pass\n',
  'tensorflow/keras/layers.py': [
    'Dense',
    'Conv1D',
    'Conv2D',
    'Conv3D',
    'BatchNormalization',
    'LSTM',
    'GRU',
    'RNN',
    'SimpleRNN',
  ]
    .map(n => `class ${n}: pass\n`)
    .join(''),
};

interface Setup {
  python: string;
  env: NodeJS.ProcessEnv;
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 900_000): string {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error)).slice(-1500)}`,
    );
  return r.stdout;
}

let setupPromise: Promise<Setup | string> | null = null;
/** The venv with calculadorapnav, or the reason it could not be made. */
function setup(): Promise<Setup | string> {
  setupPromise ??= (async () => {
    const venv = path.join(work, 'venv');
    try {
      sh('python3', ['-m', 'venv', venv]);
    } catch (error) {
      return `cannot create a Python venv: ${(error as Error).message}`;
    }
    const pip = path.join(venv, 'bin', 'pip');
    const env: NodeJS.ProcessEnv = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' };
    try {
      if (process.env.PNAV_COMPAT_FULL_INSTALL === '1') {
        sh(pip, ['install', '--quiet', 'calculadorapnav==1.0.2'], env);
      } else {
        sh(pip, ['install', '--quiet', '--no-deps', 'calculadorapnav==1.0.2'], env);
        sh(pip, ['install', '--quiet', ...LIGHT_DEPS], env);
        const stubs = path.join(work, 'import-stand-ins');
        for (const [file, text] of Object.entries(STUBS)) {
          mkdirSync(path.dirname(path.join(stubs, file)), { recursive: true });
          writeFileSync(path.join(stubs, file), text);
        }
        env.PYTHONPATH = stubs;
      }
    } catch (error) {
      return `could not install calculadorapnav from PyPI: ${(error as Error).message}`;
    }
    if (!existsSync(CLI)) sh('npm', ['run', 'build', '-w', 'sidecar'], process.env);
    return { python: path.join(venv, 'bin', 'python'), env };
  })();
  return setupPromise;
}

async function ready(ctx: { skip: (note?: string) => void }): Promise<Setup> {
  const s = await setup();
  if (typeof s === 'string') {
    console.warn(`SKIPPED calculadorapnav compatibility: ${s}`);
    ctx.skip(s);
    throw new Error('unreachable');
  }
  return s;
}

/** Starts `node sidecar/dist/cli.js <args>` and resolves once `ready(output)` returns a value. */
function startNode<T>(args: string[], ready: (stdout: string) => T | undefined, env = process.env): Promise<T> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout starting ${args[0]}: ${out}`)), 30_000);
    const check = () => {
      const value = ready(out);
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    };
    child.stdout.on('data', d => {
      out += d;
      check();
    });
    child.stderr.on('data', d => {
      out += d;
    });
    const poll = setInterval(() => {
      if (child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`${args[0]} exited ${child.exitCode}: ${out}`));
      }
      check();
    }, 100);
    timer.unref();
  });
}

interface Sidecar {
  url: string;
  token: string;
}

async function startSidecar(): Promise<Sidecar> {
  const runtimeDir = path.join(work, 'runtime');
  const dataDir = path.join(work, 'data');
  const runtimeFile = path.join(runtimeDir, 'pnav-sidecar.json');
  return startNode(
    [
      'sidecar',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--runtime-dir',
      runtimeDir,
      '--country',
      'ESP',
      '--sample-interval',
      '200',
    ],
    () => (existsSync(runtimeFile) ? (JSON.parse(readFileSync(runtimeFile, 'utf8')) as Sidecar) : undefined),
  );
}

async function api<T>(sidecar: Sidecar, method: string, route: string, body?: unknown): Promise<T> {
  const r = await fetch(`${sidecar.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${sidecar.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await r.json();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(payload)}`);
  return payload as T;
}

/** A closed run of the real sidecar, measured over ~1.2 s like the Python tiny(). */
async function sidecarRun(sidecar: Sidecar, s: Setup, output?: string): Promise<{ id: string; csvPath?: string }> {
  const platform = sh(
    s.python,
    ['-c', 'import platform; print(platform.platform()); print(platform.python_version())'],
    s.env,
  )
    .trim()
    .split('\n');
  const { run } = await api<{ run: { id: string } }>(sidecar, 'POST', '/api/v1/runs', {
    kind: 'function',
    typeProcess: 'training',
    nBatch: 10,
    nEpoch: 2,
    notebookPath: 'compat.ipynb',
    client: { os: platform[0], pythonVersion: platform[1] },
  });
  await new Promise(resolve => setTimeout(resolve, 1200));
  const closed = await api<{ csv: { path: string | null; error: string | null } | null }>(
    sidecar,
    'POST',
    `/api/v1/runs/${run.id}/close`,
    {
      ...(output ? { output: { dir: output, onCsvWrite: 'append' } } : {}),
    },
  );
  if (output && !closed.csv?.path) throw new Error(`sidecar wrote no CSV: ${JSON.stringify(closed.csv)}`);
  return { id: run.id, csvPath: closed.csv?.path ?? undefined };
}

/** The Python-level kind of a CSV cell as pandas wrote it. */
function cellKind(cell: string): string {
  if (cell === '') return 'empty';
  if (/^-?\d+$/.test(cell)) return 'int';
  if (/^-?(\d+\.\d*|\d*\.\d+)(e[+-]\d+)?$|^-?\d+e[+-]\d+$/.test(cell)) return 'float';
  if (/^\(.*\)$/.test(cell)) return 'tuple';
  return 'str';
}

function csvRows(file: string): { header: string; cells: string[][] } {
  // Rows of both writers hold no quoted commas for this tiny function (no tuple n_features).
  const [header, ...rows] = readFileSync(file, 'utf8').trimEnd().split('\n');
  return { header, cells: rows.map(r => r.split(',')) };
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

describe('compatibility with the real calculadorapnav (PyPI)', () => {
  it('offline CSV: same header, column order and value types as calculadorapnav 1.0.2', async ctx => {
    const s = await ready(ctx);
    const theirsDir = path.join(work, 'theirs-offline');
    mkdirSync(theirsDir);
    sh(s.python, [DRIVER, 'offline', theirsDir, '10', '2'], s.env, 120_000);
    const theirs = csvRows(path.join(theirsDir, 'emissions_training.csv'));

    const sidecar = await startSidecar();
    const oursDir = path.join(work, 'ours-offline');
    mkdirSync(oursDir);
    const ours = await sidecarRun(sidecar, s, oursDir);
    expect(ours.csvPath).toBe(path.join(oursDir, 'emissions_training.csv'));
    const mine = csvRows(ours.csvPath!);

    expect(mine.header).toBe(theirs.header);
    const columns = theirs.header.split(',');
    expect(columns).toHaveLength(40);
    const kinds = (row: string[]) => Object.fromEntries(columns.map((c, i) => [c, cellKind(row[i])]));
    const theirKinds = kinds(theirs.cells[0]);
    const ourKinds = kinds(mine.cells[0]);
    console.log('calculadorapnav row:', theirs.cells[0].join(','));
    console.log('PNAV Lab row:       ', mine.cells[0].join(','));
    // gpu_count/gpu_model depend on the machine (both empty without a GPU); compare the rest strictly.
    expect(ourKinds).toEqual(theirKinds);
    expect(mine.cells[0][columns.indexOf('country_iso_code')]).toBe('ESP');
    expect(mine.cells[0][columns.indexOf('type_ram')]).toBe(theirs.cells[0][columns.indexOf('type_ram')]);
    expect(mine.cells[0][columns.indexOf('on_cloud')]).toBe('N');
  });

  it('online request: same method, path, auth header, key order and value types as calculadorapnav 1.0.2', async ctx => {
    const s = await ready(ctx);
    const mockUrl = await startNode(
      ['mock-pnav', '--port', '0'],
      out => /listening on (http:\/\/\S+?)\/ /.exec(out)?.[1],
    );
    const endpoint = `${mockUrl}/api/v1/emissions`;
    const theirsDir = path.join(work, 'theirs-online');
    mkdirSync(theirsDir);
    sh(s.python, [DRIVER, 'online', theirsDir, endpoint, TOKEN, MODEL_ID], s.env, 180_000);

    const sidecar = await startSidecar();
    const ours = await sidecarRun(sidecar, s);
    const { uploads } = await api<{ uploads: Array<{ id: string }> }>(sidecar, 'POST', '/api/v1/uploads', {
      endpointUrl: endpoint,
      token: TOKEN,
      modelId: MODEL_ID,
      runIds: [ours.id],
      typeProcess: 'training',
    });
    let status = '';
    for (let i = 0; i < 100 && status !== 'sent' && status !== 'failed'; i++) {
      await new Promise(resolve => setTimeout(resolve, 100));
      status = (await api<{ upload: { status: string } }>(sidecar, 'GET', `/api/v1/uploads/${uploads[0].id}`)).upload
        .status;
    }
    expect(status).toBe('sent');

    const { received } = (await (await fetch(`${mockUrl}/__received`)).json()) as {
      received: Array<{
        method: string;
        path: string;
        headers: Record<string, string>;
        rawBody: string;
        status: number;
      }>;
    };
    expect(received).toHaveLength(2);
    const [theirs, mine] = received;
    expect(theirs.status).toBe(201); // the mock's schema accepts the real calculadorapnav body
    expect(mine.status).toBe(201);
    expect(mine.method).toBe(theirs.method);
    expect(mine.path).toBe(theirs.path);
    expect(mine.headers.authorization).toBe(theirs.headers.authorization);
    expect(mine.headers['content-type']).toBe(theirs.headers['content-type']);
    expect(mine.headers['idempotency-key']).toBe(uploads[0].id);
    const typesOf = (raw: string) => {
      const script =
        'import json,sys; print(json.dumps([[k, type(v).__name__] for k, v in json.loads(sys.stdin.read()).items()]))';
      const r = spawnSync(s.python, ['-c', script], { input: raw, encoding: 'utf8', env: s.env });
      if (r.status !== 0) throw new Error(`python could not parse the body: ${r.stderr}`);
      return JSON.parse(r.stdout) as Array<[string, string]>;
    };
    const theirTypes = typesOf(theirs.rawBody);
    const ourTypes = typesOf(mine.rawBody);
    console.log('calculadorapnav body:', theirs.rawBody);
    console.log('PNAV Lab body:       ', mine.rawBody);
    expect(ourTypes.map(([k]) => k)).toEqual(theirTypes.map(([k]) => k));
    expect(Object.fromEntries(ourTypes)).toEqual(Object.fromEntries(theirTypes));
  });
});

// ------------------------------------------------------------------ same content, not only the same shape

const SCENARIO = path.join(ROOT, 'test/compat/same-scenario.py');
const PNAV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
/** Fields both tools must write alike; `emissions` is compared as emissions / energy (the intensity). */
const SAME_FIELDS = [
  'country_iso_code',
  'country_name',
  'ref',
  'region',
  'cloud_provider',
  'cloud_region',
  'on_cloud',
  'pue',
];

/** The sidecar of these scenarios: a UTC machine (no country from the time zone), no --country, no user config. */
async function startUtcSidecar(home: string): Promise<Sidecar> {
  const runtimeDir = path.join(work, 'runtime-utc');
  const runtimeFile = path.join(runtimeDir, 'pnav-sidecar.json');
  const args = ['sidecar', '--port', '0', '--data-dir', path.join(work, 'data-utc'), '--runtime-dir', runtimeDir];
  return startNode(
    [...args, '--sample-interval', '200'],
    () => (existsSync(runtimeFile) ? (JSON.parse(readFileSync(runtimeFile, 'utf8')) as Sidecar) : undefined),
    { ...process.env, TZ: 'UTC', HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), PNAV_COUNTRY: '' },
  );
}

type Row = Record<string, string>;

interface Tools {
  s: Setup;
  sidecar: Sidecar;
  home: string;
}

/** Runs a scenario under one tool in a Python process on Madrid time; returns the CSV rows it wrote (none: []). */
function runScenario(
  tools: Tools,
  tool: 'calculadorapnav' | 'pnav_lab',
  scenario: string,
  online: string[] = [],
): Row[] {
  const out = path.join(work, `${tool}-${scenario}`);
  mkdirSync(out, { recursive: true });
  const madrid = { TZ: 'Europe/Madrid', HOME: tools.home, XDG_CONFIG_HOME: path.join(tools.home, '.config') };
  // No route to a geolocation service: calculadorapnav falls back to Spain, as on a machine without one.
  const noGeo = {
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost',
  };
  const env =
    tool === 'calculadorapnav'
      ? { ...tools.s.env, ...madrid, ...noGeo }
      : {
          ...process.env,
          ...madrid,
          PNAV_SIDECAR_URL: tools.sidecar.url,
          PNAV_SIDECAR_TOKEN: tools.sidecar.token,
          PNAV_SIDECAR_CMD: 'false',
          PNAV_RUNTIME_DIR: path.join(work, 'runtime-utc'),
        };
  const python = tool === 'calculadorapnav' ? tools.s.python : PNAV_PYTHON;
  const printed = sh(python, [SCENARIO, tool, scenario, out, ...online], env, 180_000)
    .trim()
    .split('\n')
    .pop()!;
  expect(JSON.parse(printed).raised).toBe(scenario.endsWith('raises') ? 'diverged' : null);
  const file = path.join(out, 'emissions_training.csv');
  if (!existsSync(file)) return [];
  const script = 'import csv,json,sys; print(json.dumps(list(csv.DictReader(open(sys.argv[1], newline="")))))';
  return JSON.parse(sh(tools.s.python, ['-c', script, file], tools.s.env)) as Row[];
}

function intensity(row: Record<string, unknown>): number {
  return (Number(row.emissions) / Number(row.energy_consumed)) * 1000;
}

/** The same country, factors and formats; the same local hour (both Python processes run on Madrid time). */
function expectSameContent(mine: Row, theirs: Row, except: string[] = []): void {
  for (const field of SAME_FIELDS.filter(f => !except.includes(f))) {
    expect({ field, value: mine[field] }).toEqual({ field, value: theirs[field] });
  }
  expect(Number(theirs.energy_consumed)).toBeGreaterThan(0);
  expect(Number(mine.energy_consumed)).toBeGreaterThan(0);
  expect(Math.abs(intensity(mine) / intensity(theirs) - 1)).toBeLessThan(0.005);
  const apartMs = Math.abs(Date.parse(`${mine.timestamp}Z`) - Date.parse(`${theirs.timestamp}Z`));
  expect(apartMs).toBeLessThan(10 * 60_000); // a sidecar-zone (UTC) timestamp would be an hour apart
}

describe('same record content as calculadorapnav 1.0.2 (country, factors, formats, failed runs)', () => {
  let tools: Tools | null = null;
  async function both(ctx: { skip: (note?: string) => void }): Promise<Tools> {
    const s = await ready(ctx);
    if (!existsSync(PNAV_PYTHON)) {
      console.warn(`SKIPPED calculadorapnav content compatibility: no ${PNAV_PYTHON} (npm run build makes it)`);
      ctx.skip('no .venv with pnav_lab');
    }
    if (!tools) {
      const home = mkdtempSync(path.join(work, 'home-'));
      tools = { s, sidecar: await startUtcSidecar(home), home };
    }
    return tools;
  }

  for (const [scenario, expected] of [
    ['aws-eu-west-1', { country_iso_code: 'IRL', country_name: 'Ireland', intensity: 150 }],
    ['azure-westeurope', { country_iso_code: 'NLD', country_name: 'Netherlands', intensity: 140 }],
    ['esp-explicit', { country_iso_code: 'ESP', country_name: 'Spain', intensity: 125.6, region: 'madrid' }],
    ['int-pue', { country_iso_code: 'ESP', country_name: 'Spain', intensity: 125.6, pue: '1' }],
  ] as const) {
    it(`offline ${scenario}: the same country, intensity, ref, region and pue text`, async ctx => {
      const t = await both(ctx);
      const [theirs] = runScenario(t, 'calculadorapnav', scenario);
      const [mine] = runScenario(t, 'pnav_lab', scenario);
      console.log(`${scenario} calculadorapnav:`, JSON.stringify(theirs));
      console.log(`${scenario} PNAV Lab:       `, JSON.stringify(mine));
      expectSameContent(mine, theirs);
      expect(mine).toMatchObject({ country_iso_code: expected.country_iso_code, country_name: expected.country_name });
      expect(intensity(mine)).toBeCloseTo(expected.intensity, 6);
      if ('region' in expected) expect(mine.region).toBe(expected.region);
      if ('pue' in expected) expect(mine.pue).toBe(expected.pue);
    });
  }

  it('a raising function: neither tool writes a row', async ctx => {
    const t = await both(ctx);
    expect(runScenario(t, 'calculadorapnav', 'raises')).toEqual([]);
    expect(runScenario(t, 'pnav_lab', 'raises')).toEqual([]);
  });

  it("online, the manual's example with no country on a UTC machine: Spain and the calculator's factors; a raising function sends nothing", async ctx => {
    const t = await both(ctx);
    const mockUrl = await startNode(
      ['mock-pnav', '--port', '0'],
      out => /listening on (http:\/\/\S+?)\/ /.exec(out)?.[1],
    );
    const online = [`${mockUrl}/api/v1/emissions`, TOKEN, MODEL_ID];
    const received = async () =>
      (
        (await (await fetch(`${mockUrl}/__received`)).json()) as {
          received: Array<{ rawBody: string; status: number }>;
        }
      ).received;
    runScenario(t, 'calculadorapnav', 'online-no-country', online);
    runScenario(t, 'pnav_lab', 'online-no-country', online); // waits for the first outcome: delivered
    const [theirs, mine] = (await received()).map(r => {
      expect(r.status).toBe(201);
      return JSON.parse(r.rawBody) as Row;
    });
    console.log('online calculadorapnav body:', JSON.stringify(theirs));
    console.log('online PNAV Lab body:       ', JSON.stringify(mine));
    // calculadorapnav's geolocation fallback writes Spain with region "quebec" (its Canadian default's region,
    // lower-cased): PNAV Lab writes no region it does not know. Listed in the README's compatibility section.
    expect(theirs.region).toBe('quebec');
    expect(mine.region).toBe('');
    expectSameContent(mine, theirs, ['region']);
    expect(mine).toMatchObject({ country_iso_code: 'ESP', country_name: 'Spain', ref: 0.605 });

    expect(runScenario(t, 'calculadorapnav', 'online-raises', online)).toEqual([]);
    expect(runScenario(t, 'pnav_lab', 'online-raises', online)).toEqual([]);
    expect(await received()).toHaveLength(2); // no request for either failed run
  });
});
