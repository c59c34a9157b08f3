/**
 * Prometheus metrics of the sidecar (served at /metrics). Kept apart from the server so
 * later work (multi-user, per-kernel series) can add metrics here without touching routes.
 *
 * Every series carries `host` and `user` (one sidecar per user per machine) plus the sidecar's
 * `--label k=v` pairs (e.g. `job`); run metrics take `job` from the run's own labels
 * (`%%pnav --label job=…`) when it has one. See docs/prometheus/README.md.
 */
import os from 'node:os';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Component, Location, Run } from '../api/schemas.js';
import type { PowerSource } from '../power/source.js';

export interface SidecarMetrics {
  registry: Registry;
  /** Each tick: instantaneous power and energy since the previous tick, per component. */
  observeSample(
    powerW: Partial<Record<Component, number | null>>,
    energyDeltaJ: Partial<Record<Component, number>>,
  ): void;
  setOpenRuns(n: number): void;
  observeRunClosed(run: Run): void;
  /** The grid's carbon intensity for a location (the configured one at start, each run's at close). */
  setGridIntensity(location: Location): void;
  /** Cumulative energy per series (`component|method|measured` → J), restored ones included: what is persisted. */
  energyTotals(): Record<string, number>;
}

export interface MetricsContext {
  host?: string;
  user?: string;
  /** The configured location, so the grid intensity is exported before the first run closes. */
  location?: Location;
  startedAtS?: number;
  /** Energy totals persisted by an earlier sidecar on this data dir: the counters continue from them. */
  energyTotalsJ?: Record<string, number>;
  /**
   * Persists the totals about to be exported (called on each scrape, before the values are shown),
   * so a restart, even after kill -9, restores at least what a scraper has seen: never a decrease.
   */
  persistEnergy?: (totalsJ: Record<string, number>) => Promise<void>;
}

/** The key of one energy series in the persisted totals. */
export function energySeriesKey(component: Component, method: string, measured: boolean): string {
  return `${component}|${method}|${measured}`;
}

/**
 * The `job` of a run: its own label wins over the sidecar's. A run labelled with the sidecar's own job
 * uses the unlabelled series, which the default labels already give that job: labelling it explicitly
 * would expose a second series with the same label set, and Prometheus rejects such a scrape whole.
 */
function jobOf(run: Run, sidecarJob: string | undefined): { job: string } | Record<string, never> {
  const job = run.labels?.job;
  return job && job !== sidecarJob ? { job } : {};
}

export function createMetrics(
  sources: readonly PowerSource[],
  labels: Record<string, string> = {},
  context: MetricsContext = {},
): SidecarMetrics {
  const registry = new Registry();
  // host/user first: an explicit --label host=… or user=… (e.g. the JupyterHub user name) wins.
  registry.setDefaultLabels({
    host: context.host ?? os.hostname(),
    user: context.user ?? os.userInfo().username,
    ...labels,
  });
  const methodOf = new Map<Component, PowerSource>();
  for (const s of sources) if (!methodOf.has(s.component)) methodOf.set(s.component, s);

  // Each tick only updates these numbers; prom-client sees them when scraped (collect), so sampling
  // at 10 Hz costs no label hashing or metric bookkeeping per tick.
  const series = [...methodOf].map(([component, source]) => ({
    component,
    labels: { component, method: source.method, measured: String(source.measured) },
    key: energySeriesKey(component, source.method, source.measured),
    powerW: 0,
  }));
  const totalsJ: Record<string, number> = {};
  for (const [key, value] of Object.entries(context.energyTotalsJ ?? {})) {
    if (validTotal(value) > 0) totalsJ[key] = validTotal(value);
  }
  for (const s of series) totalsJ[s.key] ??= 0;
  const exportedJ = new Map<string, number>();

  new Gauge({
    name: 'pnav_power_watts',
    help: 'Power of each component at the last sample (machine-wide), with how it was obtained.',
    labelNames: ['component', 'method', 'measured'] as const,
    registers: [registry],
    collect() {
      for (const s of series) this.set(s.labels, s.powerW);
    },
  });
  new Counter({
    name: 'pnav_energy_joules_total',
    help: 'Energy of each component (machine-wide, before PUE). Persisted in the data dir: continues across sidecar restarts, never resets.',
    labelNames: ['component', 'method', 'measured'] as const,
    registers: [registry],
    async collect() {
      const shown = Object.fromEntries(series.map(s => [s.key, totalsJ[s.key]!]));
      await context.persistEnergy?.({ ...totalsJ });
      for (const s of series) {
        const delta = shown[s.key]! - (exportedJ.get(s.key) ?? 0);
        this.inc(s.labels, Math.max(delta, 0));
        if (delta > 0) exportedJ.set(s.key, shown[s.key]!);
      }
    },
  });
  const openRuns = new Gauge({
    name: 'pnav_open_runs',
    help: 'Runs currently open.',
    registers: [registry],
  });
  const runEnergy = new Histogram({
    name: 'pnav_run_energy_joules',
    help: 'Energy of each closed run (included components, before PUE), observed when it closes.',
    labelNames: ['kind', 'status', 'job'] as const,
    buckets: [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000],
    registers: [registry],
  });
  const runsClosed = new Counter({
    name: 'pnav_runs_closed_total',
    help: 'Runs closed since the sidecar started.',
    labelNames: ['kind', 'status', 'job'] as const,
    registers: [registry],
  });
  const runEmissions = new Counter({
    name: 'pnav_run_emissions_grams_total',
    help: 'CO2eq of closed runs (facility energy x grid intensity) since the sidecar started.',
    labelNames: ['job'] as const,
    registers: [registry],
  });
  const runFacilityEnergy = new Counter({
    name: 'pnav_run_facility_energy_joules_total',
    help: 'Energy of closed runs including PUE (what calculadorapnav reports) since the sidecar started.',
    labelNames: ['job'] as const,
    registers: [registry],
  });
  const gridIntensity = new Gauge({
    name: 'pnav_grid_intensity_grams_per_kwh',
    help: 'Carbon intensity of the grid (g CO2eq/kWh) for the configured location and for the locations of closed runs.',
    labelNames: ['country', 'source'] as const,
    registers: [registry],
  });
  const startTime = new Gauge({
    name: 'pnav_sidecar_start_time_seconds',
    help: 'When this sidecar started (Unix time): run counters restart from zero when it changes (energy counters do not).',
    registers: [registry],
  });
  startTime.set(context.startedAtS ?? Math.floor(Date.now() / 1000));

  openRuns.set(0);
  runEmissions.inc(0);
  runFacilityEnergy.inc(0);

  const setGridIntensity = (location: Location) => {
    gridIntensity.set({ country: location.countryIso3, source: location.countrySource }, location.intensityGPerKWh);
  };
  if (context.location) setGridIntensity(context.location);

  return {
    registry,
    observeSample(powerW, energyDeltaJ) {
      for (const s of series) {
        const p = powerW[s.component];
        if (p !== null && p !== undefined) s.powerW = p;
        const e = energyDeltaJ[s.component];
        // A counter must never go down: figures that are not finite or negative are not added.
        if (e !== undefined && Number.isFinite(e) && e > 0) totalsJ[s.key]! += e;
      }
    },
    energyTotals: () => ({ ...totalsJ }),
    setOpenRuns(n) {
      openRuns.set(n);
    },
    observeRunClosed(run) {
      const job = jobOf(run, labels.job);
      runEnergy.observe({ kind: run.kind, status: run.status, ...job }, run.energyJ);
      runsClosed.inc({ kind: run.kind, status: run.status, ...job });
      // A counter must never go down: figures that are not finite or negative are not added.
      if (Number.isFinite(run.emissionsG) && run.emissionsG > 0) runEmissions.inc(job, run.emissionsG);
      if (Number.isFinite(run.facilityEnergyJ) && run.facilityEnergyJ > 0) {
        runFacilityEnergy.inc(job, run.facilityEnergyJ);
      }
      if (run.location) setGridIntensity(run.location);
    },
    setGridIntensity,
  };
}

function validTotal(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
