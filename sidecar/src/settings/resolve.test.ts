import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isPrivateGroup } from '../util/trusted-path.js';
import { TOKEN_REFUSAL } from './definitions.js';
import type { SettingsPaths } from './files.js';
import { resolveSettings, settingsList } from './resolve.js';
import { writeSetting } from './write.js';

let root: string;
let home: string;
let cwd: string;
let paths: SettingsPaths;

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-settings-'));
  home = path.join(root, 'home');
  cwd = path.join(home, 'work', 'proj', 'notebooks');
  fs.mkdirSync(cwd, { recursive: true });
  paths = { homeDir: home, userFile: path.join(root, 'xdg', 'pnav-lab', 'config.toml') };
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('precedence: later layers win', () => {
  test('default < sidecar flag < codecarbon < calculadorapnav < user < project INI files < .pnav.toml < env < argument', () => {
    const files = [
      write(path.join(home, '.codecarbon.config'), '[codecarbon]\npue = 1.1\n'),
      write(path.join(home, '.calculadorapnav.config'), '[calculadorapnav]\npue = 1.2\n'),
      write(paths.userFile, 'pue = 1.3\n'),
      write(path.join(home, 'work', 'proj', '.codecarbon.config'), '[codecarbon]\npue = 1.4\n'),
      write(path.join(home, 'work', '.calculadorapnav.config'), '[calculadorapnav]\npue = 1.5\n'),
      write(path.join(home, 'work', 'proj', '.pnav.toml'), 'pue = 1.6\n'),
    ];
    const sources = [
      `codecarbon:${files[0]}`,
      `calculadorapnav:${files[1]}`,
      `user:${files[2]}`,
      `codecarbon:${files[3]}`,
      `calculadorapnav:${files[4]}`,
      `project:${files[5]}`,
    ];
    const opts = { cwd, paths, sidecar: { pue: 1.05 }, env: { PNAV_PUE: '1.7' }, args: { pue: 1.8 } };

    let r = resolveSettings(opts);
    expect([r.values.pue, r.sources.pue]).toEqual([1.8, 'argument']);
    r = resolveSettings({ ...opts, args: {} });
    expect([r.values.pue, r.sources.pue]).toEqual([1.7, 'env:PNAV_PUE']);
    r = resolveSettings({ ...opts, args: {}, env: {} });
    expect(r.files).toEqual(files);
    // Peel the files off from the strongest down: each time the next weaker one shows through.
    for (let i = files.length - 1; i >= 0; i--) {
      r = resolveSettings({ ...opts, args: {}, env: {} });
      expect([r.values.pue, r.sources.pue]).toEqual([Number((1.1 + i / 10).toFixed(1)), sources[i]]);
      fs.rmSync(files[i]!);
    }
    r = resolveSettings({ ...opts, args: {}, env: {} });
    expect([r.values.pue, r.sources.pue]).toEqual([1.05, 'sidecar:--pue']);
    r = resolveSettings({ cwd, paths });
    expect([r.values.pue, r.sources.pue]).toEqual([1, 'default']);
    expect(r.warnings).toEqual([]);
  });

  test('each key resolves independently: a stronger layer only overrides what it sets', () => {
    write(paths.userFile, 'country = "FRA"\ntype_ram = "DDR5"\n');
    const project = write(path.join(cwd, '.pnav.toml'), 'components = ["cpu", "ram"]\n');
    const r = resolveSettings({ cwd, paths, env: { PNAV_COUNTRY: 'PRT', PNAV_SIDECAR_URL: 'http://x' } });
    expect(r.values.country).toBe('PRT');
    expect(r.sources.country).toBe('env:PNAV_COUNTRY');
    expect(r.values.type_ram).toBe('DDR5');
    expect(r.sources.type_ram).toBe(`user:${paths.userFile}`);
    expect(r.values.components).toEqual(['cpu', 'ram']);
    expect(r.sources.components).toBe(`project:${project}`);
    expect(r.sources.gpu_mode).toBe('default');
  });

  test('only the nearest .pnav.toml upward counts; the home dir is the user level, not a project', () => {
    write(path.join(home, '.pnav.toml'), 'pue = 2.5\n');
    write(path.join(home, 'work', '.pnav.toml'), 'pue = 1.4\nregion = "far"\n');
    const near = write(path.join(home, 'work', 'proj', '.pnav.toml'), 'pue = 1.2\n');
    const r = resolveSettings({ cwd, paths });
    expect([r.values.pue, r.sources.pue]).toEqual([1.2, `project:${near}`]);
    expect(r.values.region).toBeNull();
    fs.rmSync(near);
    fs.rmSync(path.join(home, 'work', '.pnav.toml'));
    expect(resolveSettings({ cwd, paths }).sources.pue).toBe('default');
  });

  test('no cwd: no project level', () => {
    write(path.join(cwd, '.pnav.toml'), 'pue = 1.2\n');
    expect(resolveSettings({ paths }).sources.pue).toBe('default');
  });
});

describe('calculadorapnav / CodeCarbon files', () => {
  test("an existing user's .calculadorapnav.config keeps working, keys mapped and the token never read", () => {
    const file = write(
      path.join(cwd, '.calculadorapnav.config'),
      [
        '[calculadorapnav]',
        'country_iso_code = FRA',
        'region = Ile-de-France',
        'cloud_provider = gcp',
        'cloud_region = europe-west9',
        'measure_power_secs = 15',
        'pue = 1.4',
        'type_ram = DDR5',
        'gpu_ids = 0,1',
        'output_dir = results',
        'type_process = inference',
        'endpoint_url = https://api.pnav.example/v1',
        `model_id = ${'ab'.repeat(32)}`,
        'token = SECRET-TOKEN-VALUE',
        'log_level = error',
        'save_to_file = true',
        '',
        '[other]',
        'pue = 2.9',
      ].join('\n'),
    );
    const r = resolveSettings({ cwd, paths });
    expect(r.values).toEqual({
      country: 'FRA',
      region: 'ile-de-france',
      cloud_provider: 'gcp',
      cloud_region: 'europe-west9',
      factors: 'pnav',
      pue: 1.4,
      type_ram: 'DDR5',
      components: ['cpu', 'gpu', 'ram'],
      gpu_ids: [0, 1],
      gpu_mode: 'visible',
      sample_interval_ms: 15000,
      output_dir: path.join(cwd, 'results'),
      type_process: 'inference',
      endpoint_url: 'https://api.pnav.example/v1',
      model_id: 'ab'.repeat(32),
    });
    const fromFile = Object.entries(r.sources)
      .filter(([, s]) => s === `calculadorapnav:${file}`)
      .map(([k]) => k);
    expect(fromFile.sort()).toEqual(
      Object.keys(r.values)
        .filter(k => k !== 'components' && k !== 'gpu_mode' && k !== 'factors')
        .sort(),
    );
    expect(r.warnings).toEqual([]);
    expect(JSON.stringify(r)).not.toContain('SECRET-TOKEN-VALUE');
  });

  test('a [codecarbon] section in ~/.codecarbon.config is read; CodeCarbon list syntax for gpu_ids works', () => {
    const file = write(
      path.join(home, '.codecarbon.config'),
      '[codecarbon]\ngpu_ids = [2, 3]\nmeasure_power_secs = 0.5\n',
    );
    const r = resolveSettings({ cwd, paths });
    expect(r.values.gpu_ids).toEqual([2, 3]);
    expect(r.values.sample_interval_ms).toBe(500);
    expect(r.sources.gpu_ids).toBe(`codecarbon:${file}`);
  });
});

describe('bad input in files and variables is skipped with a warning naming source and key', () => {
  test('bad values, unknown keys, a token, an unparsable file', () => {
    write(paths.userFile, 'pue = 1.2\n');
    const project = write(path.join(cwd, '.pnav.toml'), 'pue = 0.5\ncolour = "red"\ntoken = "SECRET-TOKEN-VALUE"\n');
    const legacy = write(path.join(home, '.calculadorapnav.config'), '[calculadorapnav]\ntype_ram = DDR9\n');
    const r = resolveSettings({ cwd, paths, env: { PNAV_COMPONENTS: 'cpu,tpu' } });
    expect(r.values.pue).toBe(1.2);
    expect(r.sources.pue).toBe(`user:${paths.userFile}`);
    expect(r.values.type_ram).toBe('DDR4');
    expect(r.values.components).toEqual(['cpu', 'gpu', 'ram']);
    expect(r.warnings).toEqual([
      {
        source: `calculadorapnav:${legacy}`,
        key: 'type_ram',
        message: 'type_ram: must be one of DDR3, DDR4, DDR5; got "DDR9"',
      },
      { source: `project:${project}`, key: 'pue', message: 'pue: must be >= 1; got 0.5' },
      {
        source: `project:${project}`,
        key: 'colour',
        message: expect.stringMatching(/^colour: unknown setting, ignored; known settings: country, region, /),
      },
      { source: `project:${project}`, key: 'token', message: `token: ignored: ${TOKEN_REFUSAL}` },
      {
        source: 'env:PNAV_COMPONENTS',
        key: 'components',
        message: 'components: must be one of cpu, gpu, ram (entry "tpu"); got "cpu,tpu"',
      },
    ]);
    expect(JSON.stringify(r)).not.toContain('SECRET-TOKEN-VALUE');

    fs.writeFileSync(project, 'pue = = 1\n');
    const broken = resolveSettings({ cwd, paths });
    expect(broken.values.pue).toBe(1.2);
    expect(broken.warnings.find(w => w.key === '*')?.message).toMatch(new RegExp(`^cannot read ${project}: `));
  });

  test('a bad argument is an error, not a warning', () => {
    expect(() => resolveSettings({ paths, args: { pue: 0.2 } })).toThrow('pue: must be >= 1; got 0.2');
    expect(() => resolveSettings({ paths, args: { colour: 'red' } as never })).toThrow(/^colour: unknown setting/);
  });
});

test('output_dir: relative to the notebook directory, ~ expanded', () => {
  write(paths.userFile, 'output_dir = "~/emissions"\n');
  expect(resolveSettings({ cwd, paths }).values.output_dir).toBe(path.join(home, 'emissions'));
  expect(resolveSettings({ cwd, paths, env: { PNAV_OUTPUT_DIR: '../out' } }).values.output_dir).toBe(
    path.join(home, 'work', 'proj', 'out'),
  );
});

test('settingsList: every key once, in order, with value, source and description', () => {
  const list = settingsList(resolveSettings({ cwd, paths, env: { PNAV_PUE: '1.1' } }));
  expect(list.map(s => s.key)).toEqual([
    'country',
    'region',
    'cloud_provider',
    'cloud_region',
    'factors',
    'pue',
    'type_ram',
    'components',
    'gpu_ids',
    'gpu_mode',
    'sample_interval_ms',
    'output_dir',
    'type_process',
    'endpoint_url',
    'model_id',
  ]);
  expect(list.find(s => s.key === 'pue')).toMatchObject({ value: 1.1, source: 'env:PNAV_PUE' });
  expect(list.find(s => s.key === 'country')!.description).toMatch(
    /\(unset: guessed from the time zone, else Spain \(calculadorapnav's fallback\)\)$/,
  );
});

describe('file lookup reused for fileLookupMaxAgeMs (opening runs)', () => {
  const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

  test('a file created outside the sidecar shows once the lookup is older than maxAge', async () => {
    const opts = { cwd, paths, fileLookupMaxAgeMs: 200 };
    expect(resolveSettings(opts).sources.pue).toBe('default');
    const project = write(path.join(cwd, '.pnav.toml'), 'pue = 1.4\n');
    // Within maxAge the lookup is reused: no stat walk, the new file is not seen yet.
    expect(resolveSettings(opts).sources.pue).toBe('default');
    // Without the option (GET /config, `pnav config`) every call looks now.
    expect(resolveSettings({ cwd, paths }).sources.pue).toBe(`project:${project}`);
    await sleep(250);
    expect([resolveSettings(opts).values.pue, resolveSettings(opts).sources.pue]).toEqual([1.4, `project:${project}`]);
  });

  test('a changed or removed file shows after maxAge too; other directories are looked up apart', async () => {
    const project = write(path.join(cwd, '.pnav.toml'), 'pue = 1.4\n');
    const opts = { cwd, paths, fileLookupMaxAgeMs: 200 };
    expect(resolveSettings(opts).values.pue).toBe(1.4);
    const other = path.join(home, 'elsewhere');
    fs.mkdirSync(other);
    expect(resolveSettings({ ...opts, cwd: other }).sources.pue).toBe('default');
    fs.rmSync(project);
    await sleep(250);
    expect(resolveSettings(opts).sources.pue).toBe('default');
    write(project, 'pue = 1.5\n');
    await sleep(250);
    expect(resolveSettings(opts).values.pue).toBe(1.5);
  });

  test('writeSetting (PUT /api/v1/config, %pnav config) is seen by the next run at once', async () => {
    const opts = { cwd, paths, fileLookupMaxAgeMs: 60_000 };
    expect(resolveSettings(opts).sources.pue).toBe('default');
    const written = await writeSetting({ key: 'pue', value: '1.3', scope: 'project', cwd, paths });
    expect(resolveSettings(opts).sources.pue).toBe(`project:${written.path}`);
    await writeSetting({ key: 'pue', value: '1.6', scope: 'project', cwd, paths });
    expect(resolveSettings(opts).values.pue).toBe(1.6);
  });
});

describe('only files no other user could have written are read', () => {
  // A notebook outside home: the upward search reaches shared ancestors.
  const outside = () => path.join(root, 'shared', 'alice', 'proj');

  test('a file in a world-writable ancestor is ignored, named with the reason, and the search stops there', () => {
    const shared = path.join(root, 'shared');
    fs.mkdirSync(outside(), { recursive: true });
    fs.chmodSync(shared, 0o777);
    const planted = write(path.join(shared, '.pnav.toml'), 'pue = 3\ncountry = "POL"\n');
    write(path.join(root, '.codecarbon.config'), '[codecarbon]\npue = 2.5\n'); // above the world-writable dir
    const r = resolveSettings({ cwd: outside(), paths });
    expect(r.values.pue).toBe(1);
    expect(r.sources.pue).toBe('default');
    expect(r.files).toEqual([]);
    expect(r.warnings).toEqual([
      {
        source: `project:${planted}`,
        key: '*',
        message: `ignored ${planted}: its directory ${shared} is writable by every user`,
      },
    ]);
  });

  test('a file others may write is ignored; the next trusted one up is used', () => {
    fs.mkdirSync(outside(), { recursive: true });
    const loose = write(path.join(outside(), '.pnav.toml'), 'pue = 3\n');
    fs.chmodSync(loose, 0o666);
    const above = write(path.join(root, 'shared', 'alice', '.pnav.toml'), 'pue = 1.4\n');
    const r = resolveSettings({ cwd: outside(), paths });
    expect(r.values.pue).toBe(1.4);
    expect(r.sources.pue).toBe(`project:${above}`);
    expect(r.warnings).toEqual([
      {
        source: `project:${loose}`,
        key: '*',
        message: `ignored ${loose}: the file is writable by every user (mode 0666)`,
      },
    ]);
  });

  test.skipIf(!isPrivateGroup(process.getgid?.() ?? -1))(
    'a group-writable file is read when the group is our private one (umask 002)',
    () => {
      fs.mkdirSync(outside(), { recursive: true });
      fs.chmodSync(outside(), 0o775);
      const mine = write(path.join(outside(), '.pnav.toml'), 'pue = 1.3\n');
      fs.chmodSync(mine, 0o664);
      const r = resolveSettings({ cwd: outside(), paths });
      expect(r.values.pue).toBe(1.3);
      expect(r.warnings).toEqual([]);
    },
  );

  test.skipIf(process.getuid?.() !== 0)("another user's file is ignored, root's is read (chown needs root)", () => {
    fs.mkdirSync(outside(), { recursive: true });
    const theirs = write(
      path.join(outside(), '.calculadorapnav.config'),
      '[calculadorapnav]\ncountry_iso_code = POL\n',
    );
    fs.chownSync(theirs, 65534, 65534);
    const r = resolveSettings({ cwd: outside(), paths });
    expect(r.values.country).toBeNull();
    expect(r.warnings).toEqual([
      {
        source: `calculadorapnav:${theirs}`,
        key: '*',
        message: `ignored ${theirs}: the file is owned by uid 65534, not by you (uid 0)`,
      },
    ]);
  });
});
