/**
 * Prometheus metrics of the sidecar (served at /metrics). Kept apart from the server so
 * later work (multi-user, per-kernel series) can add metrics here without touching routes.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Component, Run } from '../api/schemas.js';
import type { PowerSource } from '../power/source.js';

export interface SidecarMetrics {
  registry: Registry;
  /** Each tick: instantaneous power and energy since the previous tick, per component. */
  observeSample(powerW: Partial<Record<Component, number | null>>, energyDeltaJ: Partial<Record<Component, number>>): void;
  setOpenRuns(n: number): void;
  observeRunClosed(run: Run): void;
}

export function createMetrics(sources: readonly PowerSource[], labels: Record<string, string> = {}): SidecarMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  const methodOf = new Map<Component, PowerSource>();
  for (const s of sources) if (!methodOf.has(s.component)) methodOf.set(s.component, s);

  const power = new Gauge({
    name: 'pnav_power_watts',
    help: 'Power of each component at the last sample (machine-wide), with how it was obtained.',
    labelNames: ['component', 'method', 'measured'] as const,
    registers: [registry],
  });
  const energy = new Counter({
    name: 'pnav_energy_joules_total',
    help: 'Energy of each component since the sidecar started (machine-wide, before PUE). Never resets while running.',
    labelNames: ['component', 'method', 'measured'] as const,
    registers: [registry],
  });
  const openRuns = new Gauge({
    name: 'pnav_open_runs',
    help: 'Runs currently open.',
    registers: [registry],
  });
  const runEnergy = new Histogram({
    name: 'pnav_run_energy_joules',
    help: 'Energy of each closed run (included components, before PUE), observed when it closes.',
    labelNames: ['kind', 'status'] as const,
    buckets: [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000],
    registers: [registry],
  });
  const runsClosed = new Counter({
    name: 'pnav_runs_closed_total',
    help: 'Runs closed since the sidecar started.',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  const runEmissions = new Counter({
    name: 'pnav_run_emissions_grams_total',
    help: 'CO2eq of closed runs (facility energy x grid intensity) since the sidecar started.',
    registers: [registry],
  });

  // Present every component from the start so series exist before the first tick.
  for (const [component, source] of methodOf) {
    const l = { component, method: source.method, measured: String(source.measured) };
    power.set(l, 0);
    energy.inc(l, 0);
  }

  return {
    registry,
    observeSample(powerW, energyDeltaJ) {
      for (const [component, source] of methodOf) {
        const l = { component, method: source.method, measured: String(source.measured) };
        const p = powerW[component];
        if (p !== null && p !== undefined) power.set(l, p);
        const e = energyDeltaJ[component];
        if (e !== undefined && e > 0) energy.inc(l, e);
      }
    },
    setOpenRuns(n) {
      openRuns.set(n);
    },
    observeRunClosed(run) {
      runEnergy.observe({ kind: run.kind, status: run.status }, run.energyJ);
      runsClosed.inc({ kind: run.kind, status: run.status });
      runEmissions.inc(run.emissionsG);
    },
  };
}
