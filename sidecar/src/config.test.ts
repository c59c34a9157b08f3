import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, defaultDataDir, defaultRuntimeDir, parseConfig } from './config.js';

const homes: string[] = [];
/** A fresh home directory with the given files (path relative to it → text). */
function home(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-config-home-'));
  homes.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}
afterEach(() => {
  for (const dir of homes.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('parseConfig', () => {
  it('applies defaults from the environment', () => {
    const c = parseConfig({}, { HOME: '/home/u' });
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      dataDir: '/home/u/.local/share/pnav-lab',
      runtimeDir: '/home/u/.local/share/jupyter/runtime',
      sampleIntervalMs: 1000,
      sysfsRoot: '/sys',
      pue: 1,
      labels: {},
      metricsPublic: false,
    });
  });

  it('honours PNAV_*, JUPYTER_* and XDG variables in that order', () => {
    expect(defaultDataDir({ PNAV_DATA_DIR: '/d', XDG_DATA_HOME: '/x' })).toBe('/d');
    expect(defaultDataDir({ XDG_DATA_HOME: '/x', HOME: '/h' })).toBe('/x/pnav-lab');
    expect(defaultRuntimeDir({ PNAV_RUNTIME_DIR: '/r', JUPYTER_RUNTIME_DIR: '/j' })).toBe('/r');
    expect(defaultRuntimeDir({ JUPYTER_RUNTIME_DIR: '/j' })).toBe('/j');
    expect(defaultRuntimeDir({ JUPYTER_DATA_DIR: '/jd' })).toBe('/jd/runtime');
    expect(defaultRuntimeDir({ XDG_DATA_HOME: '/x' })).toBe('/x/jupyter/runtime');
  });

  it('parses options given as strings', () => {
    const c = parseConfig(
      {
        port: '8123',
        sampleInterval: '100',
        pue: '1.2',
        gpuIds: '0, 2',
        cpuTdp: '65',
        country: 'esp',
        label: ['team=ml', 'site=mad'],
      },
      { HOME: '/h' },
    );
    expect(c).toMatchObject({
      port: 8123,
      sampleIntervalMs: 100,
      pue: 1.2,
      gpuIds: [0, 2],
      cpuTdpW: 65,
      country: 'ESP',
    });
    expect(c.labels).toEqual({ team: 'ml', site: 'mad' });
  });

  it('names the bad option', () => {
    const bad = (raw: Parameters<typeof parseConfig>[0]) => () => parseConfig(raw, { HOME: '/h' });
    expect(bad({ pue: '0.5' })).toThrow(new ConfigError('--pue: must be >= 1'));
    expect(bad({ host: '0.0.0.0' })).toThrow(/^--host: must be a loopback address/);
    expect(bad({ sampleInterval: '1' })).toThrow(/^--sample-interval: /);
    expect(bad({ label: ['novalue'] })).toThrow("--label: expected k=v, got 'novalue'");
    expect(bad({ country: 'Spain' })).toThrow(/^--country: must be an ISO 3166-1 alpha-3 code/);
    expect(bad({ country: 'ZZZ' })).toThrow(new ConfigError("--country: unknown ISO 3166-1 alpha-3 code 'ZZZ'"));
  });

  describe('sample interval from the settings', () => {
    it('takes sample_interval_ms from the user file', () => {
      const HOME = home({ '.config/pnav-lab/config.toml': 'sample_interval_ms = 250\n' });
      expect(parseConfig({}, { HOME }).sampleIntervalMs).toBe(250);
    });

    it('honours XDG_CONFIG_HOME for the user file', () => {
      const HOME = home({ 'xdg/pnav-lab/config.toml': 'sample_interval_ms = 400\n' });
      expect(parseConfig({}, { HOME, XDG_CONFIG_HOME: path.join(HOME, 'xdg') }).sampleIntervalMs).toBe(400);
    });

    it("takes calculadorapnav's measure_power_secs (seconds) from ~/.calculadorapnav.config", () => {
      const HOME = home({ '.calculadorapnav.config': '[calculadorapnav]\nmeasure_power_secs = 2\n' });
      expect(parseConfig({}, { HOME }).sampleIntervalMs).toBe(2000);
    });

    it('lets PNAV_SAMPLE_INTERVAL_MS win over the files, and --sample-interval over both', () => {
      const HOME = home({ '.config/pnav-lab/config.toml': 'sample_interval_ms = 250\n' });
      expect(parseConfig({}, { HOME, PNAV_SAMPLE_INTERVAL_MS: '300' }).sampleIntervalMs).toBe(300);
      expect(parseConfig({ sampleInterval: '100' }, { HOME, PNAV_SAMPLE_INTERVAL_MS: '300' }).sampleIntervalMs).toBe(
        100,
      );
    });

    it('skips a bad configured value (the default applies) but refuses a bad option', () => {
      const HOME = home({ '.config/pnav-lab/config.toml': 'sample_interval_ms = 5\n' });
      expect(parseConfig({}, { HOME, PNAV_SAMPLE_INTERVAL_MS: 'fast' }).sampleIntervalMs).toBe(1000);
      expect(() => parseConfig({ sampleInterval: '5' }, { HOME })).toThrow(/^--sample-interval: /);
    });
  });
});
