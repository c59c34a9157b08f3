/**
 * `pnav config` through the built CLI (`npm run build -w sidecar` first), with HOME and
 * XDG_CONFIG_HOME pointed at temporary directories.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { TOKEN_REFUSAL } from '../settings/definitions.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
let root: string;
let home: string;
let cwd: string;
let userFile: string;

function pnav(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, 'config', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: path.join(root, 'xdg'), ...env },
    cwd,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The listing as {key: [value, source]}. */
function listing(stdout: string): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const line of stdout.trim().split('\n')) {
    const [key, value, ...source] = line.split(/\s{2,}/);
    out[key!] = [value!, source.join('  ')];
  }
  return out;
}

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build -w sidecar\` first`);
});
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-cli-config-'));
  home = path.join(root, 'home');
  cwd = path.join(home, 'proj');
  fs.mkdirSync(cwd, { recursive: true });
  userFile = path.join(root, 'xdg', 'pnav-lab', 'config.toml');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

// Each test spawns the CLI several times (about 0.5 s each on a loaded 2-core machine).
describe('pnav config', { timeout: 60_000 }, () => {
  test('lists every setting with its source; null defaults say what they mean', () => {
    const r = pnav([]);
    expect(r.code).toBe(0);
    const rows = listing(r.stdout);
    expect(Object.keys(rows)).toHaveLength(15);
    expect(rows.pue).toEqual(['1', 'default']);
    expect(rows.factors).toEqual(['pnav', 'default']);
    expect(rows.components).toEqual(['cpu,gpu,ram', 'default']);
    expect(rows.country).toEqual([
      '-',
      "default (guessed from the time zone, else Spain (calculadorapnav's fallback))",
    ]);
  });

  test('round trip: write user and project values, then see them with their files; env wins over both', () => {
    expect(pnav(['pue=1.2', 'type_ram=ddr5'])).toEqual({
      code: 0,
      stdout: `pue = 1.2  (user: ${userFile})\ntype_ram = DDR5  (user: ${userFile})\n`,
      stderr: '',
    });
    const project = path.join(cwd, '.pnav.toml');
    expect(pnav(['pue=1.3', '--project']).stdout).toBe(`pue = 1.3  (project: ${project})\n`);
    expect(parseToml(fs.readFileSync(project, 'utf8'))).toEqual({ pue: 1.3 });
    expect(fs.readFileSync(project, 'utf8')).toMatch(/^# PNAV Lab settings/);

    let rows = listing(pnav([]).stdout);
    expect(rows.pue).toEqual(['1.3', `project:${project}`]);
    expect(rows.type_ram).toEqual(['DDR5', `user:${userFile}`]);
    rows = listing(pnav([], { PNAV_PUE: '1.5' }).stdout);
    expect(rows.pue).toEqual(['1.5', 'env:PNAV_PUE']);
    // From another directory the project file does not apply.
    rows = listing(pnav(['--cwd', home]).stdout);
    expect(rows.pue).toEqual(['1.2', `user:${userFile}`]);

    expect(pnav(['--unset', 'pue', '--project']).stdout).toBe(`pue removed  (project: ${project})\n`);
    expect(listing(pnav([]).stdout).pue).toEqual(['1.2', `user:${userFile}`]);
  });

  test('an existing .calculadorapnav.config shows through, below our own file', () => {
    const legacy = path.join(cwd, '.calculadorapnav.config');
    fs.writeFileSync(legacy, '[calculadorapnav]\ncountry_iso_code = FRA\nmeasure_power_secs = 15\n');
    const rows = listing(pnav([]).stdout);
    expect(rows.country).toEqual(['FRA', `calculadorapnav:${legacy}`]);
    expect(rows.sample_interval_ms).toEqual(['15000', `calculadorapnav:${legacy}`]);
    pnav(['country=ESP', '--project']);
    expect(listing(pnav([]).stdout).country).toEqual(['ESP', `project:${path.join(cwd, '.pnav.toml')}`]);
  });

  test('--json prints settings and warnings', () => {
    fs.writeFileSync(path.join(cwd, '.pnav.toml'), 'pue = 7\n');
    const r = pnav(['--json']);
    const body = JSON.parse(r.stdout);
    expect(body.settings.find((s: { key: string }) => s.key === 'pue')).toMatchObject({ value: 1, source: 'default' });
    expect(body.warnings).toEqual([
      { source: `project:${path.join(cwd, '.pnav.toml')}`, key: 'pue', message: 'pue: must be <= 3; got 7' },
    ]);
  });

  test.each([
    [['colour=red'], /^pnav config: colour: unknown setting; known settings: country, region, /],
    [['token=abc'], `pnav config: token: ${TOKEN_REFUSAL}\n`],
    [['pue=0.5'], 'pnav config: pue: must be >= 1; got "0.5"\n'],
    [['pue=1.2', 'gpu_mode=some'], 'pnav config: gpu_mode: must be one of all, visible, by-process; got "some"\n'],
    [['pue'], "pnav config: expected key=value, got 'pue'\n"],
    [['pue=1.2', '--user', '--project'], 'pnav config: choose one of --user and --project\n'],
    [['--unset', 'colour'], /^pnav config: colour: unknown setting/],
  ])('bad input %j: exit 2, the message, nothing written', (args, message) => {
    const r = pnav(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(userFile)).toBe(false);
    expect(fs.existsSync(path.join(cwd, '.pnav.toml'))).toBe(false);
  });
});
