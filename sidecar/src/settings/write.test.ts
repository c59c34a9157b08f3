import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { TOKEN_REFUSAL } from './definitions.js';
import type { SettingsPaths } from './files.js';
import { resolveSettings } from './resolve.js';
import { targetFile, writeSetting } from './write.js';

let root: string;
let home: string;
let cwd: string;
let paths: SettingsPaths;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-write-'));
  home = path.join(root, 'home');
  cwd = path.join(home, 'proj', 'nb');
  fs.mkdirSync(cwd, { recursive: true });
  paths = { homeDir: home, userFile: path.join(root, 'xdg', 'pnav-lab', 'config.toml') };
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('writeSetting', () => {
  test('user scope creates the file (and its directory) with typed TOML values', async () => {
    const done = await writeSetting({ key: 'pue', value: '1.3', scope: 'user', paths });
    expect(done).toEqual({ key: 'pue', value: 1.3, scope: 'user', path: paths.userFile });
    await writeSetting({ key: 'components', value: 'cpu,gpu', scope: 'user', paths });
    expect(parseToml(fs.readFileSync(paths.userFile, 'utf8'))).toEqual({ pue: 1.3, components: ['cpu', 'gpu'] });
    const r = resolveSettings({ cwd, paths });
    expect([r.values.pue, r.sources.pue]).toEqual([1.3, `user:${paths.userFile}`]);
  });

  test('project scope writes the nearest .pnav.toml upward, else creates one in cwd', async () => {
    const created = await writeSetting({ key: 'country', value: 'esp', scope: 'project', cwd, paths });
    expect(created.path).toBe(path.join(cwd, '.pnav.toml'));
    fs.rmSync(created.path);
    const upper = path.join(home, 'proj', '.pnav.toml');
    fs.writeFileSync(upper, 'region = "madrid"\n');
    const done = await writeSetting({ key: 'country', value: 'ESP', scope: 'project', cwd, paths });
    expect(done.path).toBe(upper);
    expect(parseToml(fs.readFileSync(upper, 'utf8'))).toEqual({ region: 'madrid', country: 'ESP' });
    expect(resolveSettings({ cwd, paths }).sources.country).toBe(`project:${upper}`);
  });

  test('other keys are preserved, and null removes a key', async () => {
    fs.mkdirSync(path.dirname(paths.userFile), { recursive: true });
    fs.writeFileSync(paths.userFile, 'pue = 1.2\ntype_ram = "DDR5"\nsomething_else = { a = 1 }\n');
    await writeSetting({ key: 'pue', value: 1.5, scope: 'user', paths });
    expect(parseToml(fs.readFileSync(paths.userFile, 'utf8'))).toEqual({
      pue: 1.5,
      type_ram: 'DDR5',
      something_else: { a: 1 },
    });
    await writeSetting({ key: 'type_ram', value: null, scope: 'user', paths });
    expect(parseToml(fs.readFileSync(paths.userFile, 'utf8'))).toEqual({ pue: 1.5, something_else: { a: 1 } });
  });

  test.each([
    ['colour', 'red', /^colour: unknown setting; known settings: country, /],
    ['token', 'abc', `token: ${TOKEN_REFUSAL}`],
    ['pue', '0.9', 'pue: must be >= 1; got "0.9"'],
    ['gpu_mode', 'some', 'gpu_mode: must be one of all, visible, by-process; got "some"'],
  ])('bad key or value %s=%s: an error naming the key, nothing written', async (key, value, message) => {
    fs.mkdirSync(path.dirname(paths.userFile), { recursive: true });
    fs.writeFileSync(paths.userFile, 'pue = 1.2\n');
    await expect(writeSetting({ key, value, scope: 'user', paths })).rejects.toThrow(message);
    expect(fs.readFileSync(paths.userFile, 'utf8')).toBe('pue = 1.2\n');
    expect(fs.readdirSync(path.dirname(paths.userFile))).toEqual(['config.toml']);
  });

  test('a file that is not valid TOML is left as it is', async () => {
    const file = path.join(cwd, '.pnav.toml');
    fs.writeFileSync(file, 'pue = = 1\n# my notes\n');
    await expect(writeSetting({ key: 'pue', value: 1.2, scope: 'project', cwd, paths })).rejects.toThrow(
      new RegExp(`^file: ${file} is not valid TOML, so it was left unchanged: `),
    );
    expect(fs.readFileSync(file, 'utf8')).toBe('pue = = 1\n# my notes\n');
  });

  test('concurrent writes to one file keep every key (one writer per file)', async () => {
    await Promise.all([
      writeSetting({ key: 'pue', value: 1.1, scope: 'user', paths }),
      writeSetting({ key: 'country', value: 'ESP', scope: 'user', paths }),
      writeSetting({ key: 'type_ram', value: 'DDR3', scope: 'user', paths }),
      writeSetting({ key: 'gpu_ids', value: '0', scope: 'user', paths }),
    ]);
    expect(parseToml(fs.readFileSync(paths.userFile, 'utf8'))).toEqual({
      pue: 1.1,
      country: 'ESP',
      type_ram: 'DDR3',
      gpu_ids: [0],
    });
  });
});

describe('targetFile', () => {
  test('project scope needs a cwd, and refuses the home directory', () => {
    expect(() => targetFile('project', undefined, paths)).toThrow(
      "scope: 'project' needs the notebook's directory (cwd)",
    );
    expect(() => targetFile('project', home, paths)).toThrow(
      "scope: 'project': the directory is your home directory, which is the user level; use the user scope",
    );
  });
});
