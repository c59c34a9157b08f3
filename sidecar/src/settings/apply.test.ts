import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type OpenRunRequest, OpenRunRequestSchema } from '../api/schemas.js';
import { visibleGpuIndices } from '../power/gpu/gpu-visibility.js';
import { applySettingsToOpenRequest, parseCudaVisibleDevices, settingsForOpenRun } from './apply.js';
import type { SettingsPaths } from './files.js';
import { resolveSettings } from './resolve.js';

let root: string;
let cwd: string;
let paths: SettingsPaths;
let project: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-apply-'));
  cwd = path.join(root, 'proj');
  fs.mkdirSync(cwd, { recursive: true });
  paths = { homeDir: path.join(root, 'home'), userFile: path.join(root, 'xdg', 'config.toml') };
  project = path.join(cwd, '.pnav.toml');
  fs.writeFileSync(
    project,
    [
      'country = "FRA"',
      'region = "bretagne"',
      'pue = 1.3',
      'type_ram = "DDR5"',
      'components = ["cpu", "ram"]',
      'gpu_ids = [1]',
      'type_process = "inference"',
      `model_id = "${'c'.repeat(64)}"`,
      'output_dir = "out"',
    ].join('\n'),
  );
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const open = (body: Record<string, unknown>): OpenRunRequest => OpenRunRequestSchema.parse(body);

describe('applySettingsToOpenRequest', () => {
  test('fills every field the request left unset, and says where each came from', () => {
    const req = open({ kind: 'cell', cwd });
    const applied = applySettingsToOpenRequest(req, resolveSettings({ cwd, paths }), {
      explicit: new Set(['kind', 'cwd']),
    });
    expect(applied).toMatchObject({
      kind: 'cell',
      country: undefined,
      configCountry: 'FRA',
      region: 'bretagne',
      pue: 1.3,
      typeRam: 'DDR5',
      components: ['cpu', 'ram'],
      gpuIds: [1],
      typeProcess: 'inference',
      modelId: 'c'.repeat(64),
      outputDir: path.join(cwd, 'out'),
      gpuMode: 'visible',
    });
    const p = `project:${project}`;
    expect(applied.settingsSources).toEqual({
      country: p,
      region: p,
      cloud_provider: 'default',
      cloud_region: 'default',
      factors: 'default',
      pue: p,
      type_ram: p,
      components: p,
      gpu_ids: p,
      gpu_mode: 'default',
      type_process: p,
      model_id: p,
      output_dir: p,
    });
    expect(req.pue).toBeUndefined(); // the request itself is not modified
  });

  test('explicit request fields win and are labelled argument', () => {
    const body = { cwd, country: 'ESP', pue: 1.1, components: ['gpu'], typeProcess: 'training', gpuIds: [0] };
    const applied = applySettingsToOpenRequest(open(body), resolveSettings({ cwd, paths }), {
      explicit: new Set(Object.keys(body)),
    });
    expect(applied).toMatchObject({
      country: 'ESP',
      pue: 1.1,
      components: ['gpu'],
      typeProcess: 'training',
      gpuIds: [0],
    });
    expect(applied.configCountry).toBeUndefined();
    expect(applied.settingsSources).toMatchObject({
      country: 'argument',
      pue: 'argument',
      components: 'argument',
      type_process: 'argument',
      gpu_ids: 'argument',
      type_ram: `project:${project}`,
    });
  });

  test('typeProcess has a schema default: without the raw keys it counts as sent', () => {
    const applied = applySettingsToOpenRequest(open({ cwd }), resolveSettings({ cwd, paths }));
    expect(applied.typeProcess).toBe('training');
    expect(applied.settingsSources.type_process).toBe('argument');
  });

  test('PNAV_COUNTRY from the client env becomes envCountry; defaults leave both unset', () => {
    fs.rmSync(project);
    const withEnv = settingsForOpenRun(open({ cwd, env: { PNAV_COUNTRY: 'PRT', PNAV_PUE: '1.2' } }), { paths }).applied;
    expect(withEnv).toMatchObject({ envCountry: 'PRT', country: undefined, pue: 1.2 });
    expect(withEnv.configCountry).toBeUndefined();
    expect(withEnv.settingsSources).toMatchObject({ country: 'env:PNAV_COUNTRY', pue: 'env:PNAV_PUE' });
    const bare = settingsForOpenRun(open({ cwd }), { paths }).applied;
    expect([bare.country, bare.configCountry, bare.envCountry, bare.pue]).toEqual([undefined, undefined, undefined, 1]);
    expect(bare.components).toEqual(['cpu', 'gpu', 'ram']);
    expect(bare.settingsSources.pue).toBe('default');
  });
});

describe('GPU scope', () => {
  beforeEach(() => fs.rmSync(project));

  test("'visible' (default): the kernel's CUDA_VISIBLE_DEVICES selects the GPUs", () => {
    const applied = settingsForOpenRun(open({ cwd, env: { CUDA_VISIBLE_DEVICES: '2,3' } }), { paths }).applied;
    expect(applied.gpuIds).toEqual([2, 3]);
    expect(applied.settingsSources.gpu_ids).toBe('env:CUDA_VISIBLE_DEVICES');
  });

  test('gpu_ids from configuration beats CUDA_VISIBLE_DEVICES; an argument beats both', () => {
    const env = { CUDA_VISIBLE_DEVICES: '2,3', PNAV_GPU_IDS: '3' };
    expect(settingsForOpenRun(open({ cwd, env }), { paths }).applied.gpuIds).toEqual([3]);
    expect(settingsForOpenRun(open({ cwd, env, gpuIds: [2] }), { paths }).applied.gpuIds).toEqual([2]);
  });

  test("'all' ignores CUDA_VISIBLE_DEVICES; 'by-process' starts empty and is labelled", () => {
    const all = settingsForOpenRun(open({ cwd, env: { CUDA_VISIBLE_DEVICES: '0', PNAV_GPU_MODE: 'all' } }), { paths });
    expect(all.applied.gpuIds).toBeUndefined();
    expect(all.applied.settingsSources.gpu_ids).toBe('default');
    const byProcess = settingsForOpenRun(open({ cwd, env: { PNAV_GPU_MODE: 'by-process' } }), { paths }).applied;
    expect(byProcess.gpuIds).toEqual([]);
    expect(byProcess.gpuMode).toBe('by-process');
    expect(byProcess.settingsSources.gpu_ids).toBe('by-process');
  });

  const inventory = [
    { index: 0, uuid: 'GPU-00000000-aaaa', name: 'H200' },
    { index: 5, uuid: 'GPU-55555555-ffff', name: 'H200', migUuids: ['MIG-5a5a0000-0001', 'MIG-5a5a0000-0002'] },
    { index: 7, uuid: 'GPU-77777777-eeee', name: 'H200' },
  ];

  test('a kernel naming its GPU by UUID, prefix or MIG slice counts that GPU only, and the MIG scope says so', () => {
    const ids = (cvd: string) => {
      const applied = settingsForOpenRun(open({ cwd, env: { CUDA_VISIBLE_DEVICES: cvd } }), {
        paths,
        mapVisibleGpus: text => visibleGpuIndices(inventory, text),
      }).applied;
      return [applied.gpuIds, applied.gpuScope];
    };
    expect(ids('GPU-77777777-eeee')).toEqual([[7], 'whole GPU']);
    expect(ids('GPU-5555')).toEqual([[5], 'whole GPU']);
    expect(ids('GPU-77777777-eeee,0')).toEqual([[7, 0], 'whole GPU']);
    expect(ids('MIG-5a5a0000-0002')).toEqual([[5], 'whole GPU (MIG slice not separable)']);
    expect(ids('MIG-GPU-55555555-ffff/1/0')).toEqual([[5], 'whole GPU (MIG slice not separable)']);
    expect(ids('GPU-ffffffff-0000')).toEqual([[], 'whole GPU']); // unknown UUID: CUDA sees no GPU
  });

  test('without an inventory, a UUID list counts every GPU and the scope says why', () => {
    const applied = settingsForOpenRun(open({ cwd, env: { CUDA_VISIBLE_DEVICES: 'GPU-77777777-eeee' } }), {
      paths,
    }).applied;
    expect(applied.gpuIds).toBeUndefined();
    expect(applied.gpuScope).toBe(
      'every GPU: CUDA_VISIBLE_DEVICES=GPU-77777777-eeee names UUIDs and the sidecar could not map them (no GPU inventory)',
    );
  });

  test.each([
    [undefined, null],
    ['', []],
    ['-1', []],
    ['0', [0]],
    [' 1, 0 ', [1, 0]],
    ['0,1,x,2', [0, 1]],
    ['1,1,2', [1]],
    ['GPU-8f3a0000-aaaa', null],
  ])('parseCudaVisibleDevices(%j) = %j', (text, ids) => {
    expect(parseCudaVisibleDevices(text)).toEqual(ids);
  });
});
