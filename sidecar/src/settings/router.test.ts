/**
 * /api/v1/config and the settings a run gets, through the real sidecar on port 0
 * (fake sysfs at the hardware boundary, real files for the settings).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import { type Run, RunSchema } from '../api/schemas.js';
import { parseConfig } from '../config.js';
import { type RunningSidecar, startSidecar } from '../server/sidecar.js';
import { TOKEN_REFUSAL } from './definitions.js';

const TOKEN = 'c'.repeat(64);
const auth = { Authorization: `Bearer ${TOKEN}` };
let fake: FakeRoot;
let sidecar: RunningSidecar;
let home: string;
let userFile: string;
let cwd: string;
let energyUj = 1_000_000;

async function api(method: string, url: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${sidecar.url}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test helper over JSON bodies
  return { status: res.status, body: (await res.json()) as any };
}

const configUrl = (dir: string, env?: Record<string, string>) =>
  `/api/v1/config?cwd=${encodeURIComponent(dir)}${env ? `&env=${encodeURIComponent(JSON.stringify(env))}` : ''}`;

async function measuredRun(open: Record<string, unknown>, addJ: number): Promise<Run> {
  const opened = await api('POST', '/api/v1/runs', open);
  expect(opened.status).toBe(201);
  energyUj += addJ * 1e6;
  fake.setEnergy('intel-rapl:0', energyUj);
  const closed = await api('POST', `/api/v1/runs/${opened.body.run.id}/close`, {});
  expect(closed.status).toBe(200);
  return RunSchema.parse(closed.body.run);
}

beforeAll(async () => {
  fake = new FakeRoot();
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj });
  home = fake.path('home');
  cwd = path.join(home, 'proj', 'notebooks');
  fs.mkdirSync(cwd, { recursive: true });
  // The sidecar reads the user file from its own environment (this test file runs in its own worker).
  process.env.HOME = home;
  process.env.XDG_CONFIG_HOME = fake.path('xdg');
  userFile = fake.path('xdg', 'pnav-lab', 'config.toml');
  const config = parseConfig(
    {
      dataDir: fake.path('data'),
      runtimeDir: fake.path('rt'),
      sysfsRoot: fake.sysfsRoot,
      sampleInterval: 1000,
      country: 'PRT',
    },
    {},
  );
  sidecar = await startSidecar(config, { token: TOKEN, log: () => {}, systemInfo: false });
});
afterAll(async () => {
  await sidecar?.close();
  fake.cleanup();
});

describe('GET /api/v1/config', () => {
  test('every setting with its value, source and description; the sidecar flag is a layer', async () => {
    const res = await api('GET', configUrl(cwd));
    expect(res.status).toBe(200);
    expect(res.body.settings).toHaveLength(15);
    expect(res.body.settings[0]).toEqual({
      key: 'country',
      value: 'PRT',
      source: 'sidecar:--country',
      description: 'Country of the electricity grid, ISO 3166-1 alpha-3 (e.g. ESP): selects the carbon intensity',
    });
    expect(res.body.settings.find((s: { key: string }) => s.key === 'pue')).toMatchObject({
      value: 1,
      source: 'default',
    });
    expect(res.body.warnings).toEqual([]);
  });

  test("the client's PNAV_* env is a layer when it sends it", async () => {
    const res = await api('GET', configUrl(cwd, { PNAV_PUE: '1.25' }));
    expect(res.body.settings.find((s: { key: string }) => s.key === 'pue')).toMatchObject({
      value: 1.25,
      source: 'env:PNAV_PUE',
    });
    const bad = await api(
      'GET',
      `/api/v1/config?cwd=${encodeURIComponent(cwd)}&env=${encodeURIComponent('{"HOME":"/"}')}`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('env.HOME: only PNAV_* variables and CUDA_VISIBLE_DEVICES');
  });

  test('needs the token like every route', async () => {
    expect((await api('GET', configUrl(cwd), undefined, {})).status).toBe(401);
  });
});

describe('PUT /api/v1/config', () => {
  test('writes the project file; the next run uses the value and says where it came from', async () => {
    const put = await api('PUT', '/api/v1/config', { key: 'pue', value: '1.3', scope: 'project', cwd });
    const file = path.join(cwd, '.pnav.toml');
    expect(put).toEqual({
      status: 200,
      body: {
        setting: {
          key: 'pue',
          value: 1.3,
          source: `project:${file}`,
          description: expect.stringMatching(/^Power usage/),
        },
        written: { scope: 'project', path: file },
      },
    });
    expect(parseToml(fs.readFileSync(file, 'utf8'))).toEqual({ pue: 1.3 });

    const run = await measuredRun({ kind: 'cell', cwd }, 10);
    expect(run.pue).toBe(1.3);
    expect(run.settingsSources?.pue).toBe(`project:${file}`);
    expect(run.settingsSources?.country).toBe('sidecar:--country');
    expect(run.location).toMatchObject({ countryIso3: 'PRT', countrySource: 'config' });
    expect(run.facilityEnergyJ).toBeCloseTo(run.energyJ * 1.3, 9);
    expect(run.scope.kind).toMatch(/^(machine|cgroup|slurm)$/);

    // A run elsewhere does not see this project's file; an explicit argument beats it.
    expect((await measuredRun({ cwd: home }, 1)).settingsSources?.pue).toBe('default');
    const explicit = await measuredRun({ cwd, pue: 1.1 }, 1);
    expect([explicit.pue, explicit.settingsSources?.pue]).toEqual([1.1, 'argument']);
  });

  test('user scope, then type_process from configuration applies when the client did not send it', async () => {
    const put = await api('PUT', '/api/v1/config', { key: 'type_process', value: 'inference', scope: 'user', cwd });
    expect(put.body.written).toEqual({ scope: 'user', path: userFile });
    const run = await measuredRun({ cwd }, 1);
    expect([run.typeProcess, run.settingsSources?.type_process]).toEqual(['inference', `user:${userFile}`]);
    const sent = await measuredRun({ cwd, typeProcess: 'training' }, 1);
    expect([sent.typeProcess, sent.settingsSources?.type_process]).toEqual(['training', 'argument']);
    await api('PUT', '/api/v1/config', { key: 'type_process', value: null, scope: 'user' });
    expect(parseToml(fs.readFileSync(userFile, 'utf8'))).toEqual({});
  });

  test.each([
    [{ key: 'colour', value: 'red', scope: 'user' }, 'colour', /^colour: unknown setting; known settings: country, /],
    [{ key: 'token', value: 'x'.repeat(64), scope: 'user' }, 'token', `token: ${TOKEN_REFUSAL}`],
    [{ key: 'pue', value: 'high', scope: 'user' }, 'pue', 'pue: must be a number; got "high"'],
    [
      { key: 'components', value: 'cpu,tpu', scope: 'user' },
      'components',
      'components: must be one of cpu, gpu, ram (entry "tpu"); got "cpu,tpu"',
    ],
    [
      { key: 'pue', value: 1.2, scope: 'everywhere' },
      'scope',
      'scope: Invalid option: expected one of "user"|"project"',
    ],
    [{ key: 'pue', scope: 'user' }, 'value', 'value: a value is required for pue (null removes the key)'],
    [{ key: 'pue', value: 1.2, scope: 'project' }, 'scope', "scope: 'project' needs the notebook's directory (cwd)"],
  ])('400 naming the key, nothing written: %j', async (body, issuePath, message) => {
    const before = fs.existsSync(userFile) ? fs.readFileSync(userFile, 'utf8') : null;
    const res = await api('PUT', '/api/v1/config', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message).toMatch(message);
    expect(res.body.error.issues[0].path).toBe(issuePath);
    expect(res.body.error.issues[0].message.startsWith(`${issuePath}:`)).toBe(false);
    expect(fs.existsSync(userFile) ? fs.readFileSync(userFile, 'utf8') : null).toBe(before);
    expect(JSON.stringify(res.body)).not.toContain('x'.repeat(64));
  });
});

describe('PUT /api/v1/config with a bad cwd', () => {
  test.each([
    ['a NUL character', () => `${cwd}/a\0b`, 'cwd: must not contain a NUL character'],
    ['a file', () => path.join(cwd, 'notebook.ipynb'), (c: string) => `cwd: ${c} is not a directory`],
    ['nothing', () => path.join(cwd, 'gone'), (c: string) => `cwd: ${c} does not exist`],
  ])('400 naming cwd when it names %s, nothing written', async (_what, cwdOf, message) => {
    fs.writeFileSync(path.join(cwd, 'notebook.ipynb'), '{}');
    const bad = cwdOf();
    const expected = typeof message === 'string' ? message : message(bad);
    for (const scope of ['user', 'project']) {
      const res = await api('PUT', '/api/v1/config', { key: 'pue', value: 1.2, scope, cwd: bad });
      expect([res.status, res.body.error.code, res.body.error.message]).toEqual([400, 'bad_request', expected]);
      expect(res.body.error.issues[0].path).toBe('cwd');
    }
    const get = await api('GET', configUrl(bad));
    expect([get.status, get.body.error.message]).toEqual([400, expected]);
  });
});

describe('components: what a run counts', () => {
  test('an excluded component is labelled excluded, not zero, and the totals leave it out', async () => {
    const all = await api('POST', '/api/v1/runs', { cwd: home });
    const cpuOnly = await api('POST', '/api/v1/runs', { cwd: home, components: ['cpu'] });
    const noCpu = await api('POST', '/api/v1/runs', { cwd: home, components: ['gpu', 'ram'] });
    energyUj += 50e6;
    fake.setEnergy('intel-rapl:0', energyUj);
    const close = async (r: { body: { run: Run } }) =>
      RunSchema.parse((await api('POST', `/api/v1/runs/${r.body.run.id}/close`, {})).body.run);
    const [a, c, n] = [await close(all), await close(cpuOnly), await close(noCpu)];

    expect(a.energy.cpu).toMatchObject({ energyJ: 50, method: 'rapl', measured: true, included: true });
    expect(c.energy.cpu).toMatchObject({ energyJ: 50, included: true });
    expect(c.energy.ram.included).toBe(false);
    expect(c.energy.gpu.included).toBe(false);
    expect(c.energyJ).toBe(50);
    expect(c.components).toEqual(['cpu']);
    // Excluding the CPU removes its 50 J from the total, and says so.
    expect(n.energy.cpu).toMatchObject({ energyJ: 0, method: 'rapl', included: false });
    expect(n.energyJ).toBeCloseTo(n.energy.gpu.energyJ + n.energy.ram.energyJ, 9);
    // (Totals of runs closed one after the other differ by the RAM estimate of the time between the
    // closes, which is long on a loaded machine: compare each run with its own components only.)
    expect(a.energyJ).toBeCloseTo(50 + a.energy.gpu.energyJ + a.energy.ram.energyJ, 9);
  });

  test('components from a project file apply to runs that do not name them', async () => {
    const dir = path.join(home, 'cpu-only-project');
    fs.mkdirSync(dir);
    const put = await api('PUT', '/api/v1/config', { key: 'components', value: 'cpu', scope: 'project', cwd: dir });
    expect(put.status).toBe(200);
    const run = await measuredRun({ cwd: dir }, 5);
    expect(run.components).toEqual(['cpu']);
    expect(run.energy.ram.included).toBe(false);
    expect(run.energyJ).toBe(5);
    expect(run.settingsSources?.components).toBe(`project:${path.join(dir, '.pnav.toml')}`);
  });
});

describe('GPU scope of a run', () => {
  test("the kernel's CUDA_VISIBLE_DEVICES selects GPUs; gpu_mode by-process is labelled", async () => {
    const visible = await measuredRun({ cwd: home, env: { CUDA_VISIBLE_DEVICES: '1' } }, 1);
    expect([visible.gpuIds, visible.settingsSources?.gpu_ids]).toEqual([[1], 'env:CUDA_VISIBLE_DEVICES']);
    const byProcess = await measuredRun({ cwd: home, pid: process.pid, env: { PNAV_GPU_MODE: 'by-process' } }, 1);
    expect(byProcess.settingsSources).toMatchObject({ gpu_mode: 'env:PNAV_GPU_MODE', gpu_ids: 'by-process' });
    expect(byProcess.gpuIds).toEqual([]); // no nvidia-smi on this fake machine: no GPU is the kernel's
  });
});

test('the status and every run say which machine scope applied (machine, cgroup or SLURM)', async () => {
  const status = await api('GET', '/api/v1/status');
  expect(status.body.scope.kind).toMatch(/^(machine|cgroup|slurm)$/);
  expect(status.body.scope.detail.length).toBeGreaterThan(0);
  const run = await measuredRun({ cwd: home }, 1);
  expect(run.scope).toEqual({ kind: status.body.scope.kind, detail: status.body.scope.detail });
});
