import { describe, expect, it } from 'vitest';
import { ScriptedCounter } from '../../test-support/scripted-source.js';
import type { Location, Run } from '../api/schemas.js';
import { createMetrics } from './metrics.js';

const SOURCES = [
  new ScriptedCounter('rapl', 'cpu', 'rapl', true),
  new ScriptedCounter('ram-model', 'ram', 'ram-model', false),
];
const SPAIN = {
  countryIso3: 'ESP',
  countrySource: 'config',
  intensityGPerKWh: 108,
} as Location;

function closedRun(fields: Partial<Run>): Run {
  return {
    kind: 'cell',
    status: 'ok',
    energyJ: 55,
    facilityEnergyJ: 66,
    emissionsG: 0.5,
    labels: {},
    location: SPAIN,
    ...fields,
  } as Run;
}

/** The value of the one series with exactly these labels (label order in the text is not significant). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(m => [m[1], m[2]]));
    const same =
      Object.keys(found).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => found[k] === v);
    if (same) return Number(match[3]);
  }
  return undefined;
}

describe('createMetrics', () => {
  it('exposes power gauges, energy counters that only grow, open runs and closed-run energy', async () => {
    const m = createMetrics(SOURCES, { site: 'lab' }, { host: 'node1', user: 'ana' });
    m.observeSample({ cpu: 40, ram: 5 }, { cpu: 40, ram: 5 });
    m.observeSample({ cpu: 20, ram: 5 }, { cpu: 20, ram: -3 });
    m.setOpenRuns(2);
    m.observeRunClosed(closedRun({}));
    const text = await m.registry.metrics();
    const REST = { host: 'node1', user: 'ana', site: 'lab' };
    expect(sample(text, 'pnav_power_watts', { component: 'cpu', method: 'rapl', measured: 'true', ...REST })).toBe(20);
    expect(
      sample(text, 'pnav_energy_joules_total', { component: 'cpu', method: 'rapl', measured: 'true', ...REST }),
    ).toBe(60);
    expect(
      sample(text, 'pnav_energy_joules_total', { component: 'ram', method: 'ram-model', measured: 'false', ...REST }),
    ).toBe(5);
    expect(sample(text, 'pnav_open_runs', { ...REST })).toBe(2);
    expect(sample(text, 'pnav_run_energy_joules_sum', { kind: 'cell', status: 'ok', ...REST })).toBe(55);
    expect(sample(text, 'pnav_runs_closed_total', { kind: 'cell', status: 'ok', ...REST })).toBe(1);
    expect(sample(text, 'pnav_run_facility_energy_joules_total', { ...REST })).toBe(66);
  });

  it("labels every series with the sidecar's job, and run series with the run's own job", async () => {
    const m = createMetrics(SOURCES, { job: 'train-llm' }, { host: 'node1', user: 'ana' });
    m.observeRunClosed(closedRun({ labels: { job: 'finetune' }, energyJ: 7, emissionsG: 0.25 }));
    m.observeRunClosed(closedRun({ energyJ: 3, emissionsG: 0.5 }));
    const text = await m.registry.metrics();
    expect(
      sample(text, 'pnav_energy_joules_total', {
        component: 'cpu',
        method: 'rapl',
        measured: 'true',
        host: 'node1',
        user: 'ana',
        job: 'train-llm',
      }),
    ).toBe(0);
    expect(
      sample(text, 'pnav_runs_closed_total', {
        kind: 'cell',
        status: 'ok',
        job: 'finetune',
        host: 'node1',
        user: 'ana',
      }),
    ).toBe(1);
    expect(
      sample(text, 'pnav_runs_closed_total', {
        kind: 'cell',
        status: 'ok',
        host: 'node1',
        user: 'ana',
        job: 'train-llm',
      }),
    ).toBe(1);
    expect(sample(text, 'pnav_run_emissions_grams_total', { job: 'finetune', host: 'node1', user: 'ana' })).toBe(0.25);
    expect(
      sample(text, 'pnav_run_energy_joules_sum', {
        kind: 'cell',
        status: 'ok',
        job: 'finetune',
        host: 'node1',
        user: 'ana',
      }),
    ).toBe(7);
  });

  it('lets --label user=… override the system user name (a JupyterHub user)', async () => {
    const m = createMetrics(SOURCES, { user: 'hub-ana' }, { host: 'node1', user: 'jovyan' });
    expect(await m.registry.metrics()).toContain('pnav_open_runs{host="node1",user="hub-ana"} 0');
  });

  it('exports the grid intensity of the configured location and of closed runs', async () => {
    const m = createMetrics(SOURCES, {}, { host: 'h', user: 'u', location: SPAIN });
    m.observeRunClosed(
      closedRun({ location: { ...SPAIN, countryIso3: 'FRA', countrySource: 'run', intensityGPerKWh: 56 } }),
    );
    const text = await m.registry.metrics();
    expect(
      sample(text, 'pnav_grid_intensity_grams_per_kwh', { country: 'ESP', source: 'config', host: 'h', user: 'u' }),
    ).toBe(108);
    expect(
      sample(text, 'pnav_grid_intensity_grams_per_kwh', { country: 'FRA', source: 'run', host: 'h', user: 'u' }),
    ).toBe(56);
  });

  it('never lets a counter fall or take a non-finite figure', async () => {
    const m = createMetrics(SOURCES, {}, { host: 'h', user: 'u' });
    m.observeSample({ cpu: 1 }, { cpu: 10 });
    m.observeSample({ cpu: 1 }, { cpu: Number.NaN });
    m.observeSample({ cpu: 1 }, { cpu: Number.POSITIVE_INFINITY });
    m.observeSample({ cpu: 1 }, { cpu: -5 });
    m.observeRunClosed(closedRun({ emissionsG: Number.NaN, facilityEnergyJ: -1 }));
    const text = await m.registry.metrics();
    expect(
      sample(text, 'pnav_energy_joules_total', {
        component: 'cpu',
        method: 'rapl',
        measured: 'true',
        host: 'h',
        user: 'u',
      }),
    ).toBe(10);
    expect(sample(text, 'pnav_run_emissions_grams_total', { host: 'h', user: 'u' })).toBe(0);
    expect(sample(text, 'pnav_run_facility_energy_joules_total', { host: 'h', user: 'u' })).toBe(0);
  });
});

describe('energy counters across restarts', () => {
  const CPU = { component: 'cpu', method: 'rapl', measured: 'true', host: 'h', user: 'u' };
  const RAM = { component: 'ram', method: 'ram-model', measured: 'false', host: 'h', user: 'u' };

  it('continue from the totals of an earlier sidecar, keeping series of sources not in use now', async () => {
    const restored = { 'cpu|rapl|true': 1000, 'gpu|nvml|true': 5, 'ram|ram-model|false': -3, 'x|y|z': Number.NaN };
    const m = createMetrics(SOURCES, {}, { host: 'h', user: 'u', energyTotalsJ: restored });
    expect(sample(await m.registry.metrics(), 'pnav_energy_joules_total', CPU)).toBe(1000);
    m.observeSample({ cpu: 40, ram: 5 }, { cpu: 40, ram: 5 });
    const text = await m.registry.metrics();
    expect(sample(text, 'pnav_energy_joules_total', CPU)).toBe(1040);
    expect(sample(text, 'pnav_energy_joules_total', RAM)).toBe(5); // a negative total is not restored
    expect(m.energyTotals()).toEqual({ 'cpu|rapl|true': 1040, 'gpu|nvml|true': 5, 'ram|ram-model|false': 5 });
  });

  it('persist what they are about to show before showing it, so a restart never shows less', async () => {
    const persisted: Record<string, number>[] = [];
    const m = createMetrics(
      SOURCES,
      {},
      {
        host: 'h',
        user: 'u',
        persistEnergy: async totals => {
          persisted.push(totals);
          m.observeSample({}, { cpu: 7 }); // a tick while the write is on its way
        },
      },
    );
    m.observeSample({}, { cpu: 10 });
    expect(sample(await m.registry.metrics(), 'pnav_energy_joules_total', CPU)).toBe(10);
    expect(persisted).toEqual([{ 'cpu|rapl|true': 10, 'ram|ram-model|false': 0 }]);
    expect(sample(await m.registry.metrics(), 'pnav_energy_joules_total', CPU)).toBe(17);
    expect(persisted[1]).toEqual({ 'cpu|rapl|true': 17, 'ram|ram-model|false': 0 });
  });
});
