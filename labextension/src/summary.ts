/**
 * The compact per-cell summary: what the line under a cell shows and what is
 * stored in the cell's `pnav` metadata so a reopened notebook keeps its figures.
 * The sample series stays in the sidecar.
 */
import { predictRun } from './prediction';
import { COMPONENTS, type Component, type IRun, type Method, type RunStatus } from './types';

export const METADATA_KEY = 'pnav';

export interface IComponentMethod {
  component: Component;
  method: Method;
  measured: boolean;
}

export interface ICellSummary {
  runId: string;
  status: RunStatus;
  /** Facility energy (× PUE), as PNAV reports it. */
  energyJ: number;
  emissionsG: number;
  durationS: number;
  quality: IRun['quality'];
  /** Methods of the included components, e.g. cpu: rapl (measured). */
  methods: IComponentMethod[];
  nEpoch: number;
  epochsDone: number;
  /** Facility energy predicted for all announced epochs, while the run is open (null when unknown). */
  predictedEnergyJ: number | null;
  /** The scope of the figures (`machine`, ...) and the kernel's attributed share of them, when known. */
  scopeKind: string;
  kernelShare: number | null;
  executionCount: number | null;
  endedAt: string | null;
  pue: number;
  countryIso3: string;
  intensityGPerKWh: number;
}

export function summarize(run: IRun): ICellSummary {
  return {
    runId: run.id,
    status: run.status,
    energyJ: run.facilityEnergyJ,
    emissionsG: run.emissionsG,
    durationS: run.durationS,
    quality: run.quality,
    methods: COMPONENTS.filter(c => run.energy[c].included && run.energy[c].method !== 'none').map(c => ({
      component: c,
      method: run.energy[c].method,
      measured: run.energy[c].measured,
    })),
    nEpoch: run.nEpoch,
    epochsDone: run.epochs.filter(e => e.status === 'ok').length,
    predictedEnergyJ: run.status === 'open' ? (predictRun(run)?.energyJ ?? null) : null,
    scopeKind: run.scope?.kind ?? 'machine',
    kernelShare: run.attribution?.share ?? null,
    executionCount: run.executionCount,
    endedAt: run.endedAt,
    pue: run.pue,
    countryIso3: run.location.countryIso3,
    intensityGPerKWh: run.location.intensityGPerKWh,
  };
}

/** Reads a stored summary back, tolerating notebooks edited by hand: anything malformed reads as none. */
export function readSummary(value: unknown): ICellSummary | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const v = value as Partial<ICellSummary>;
  const numbers = [v.energyJ, v.emissionsG, v.durationS];
  if (typeof v.runId !== 'string' || !numbers.every(n => typeof n === 'number' && Number.isFinite(n))) {
    return null;
  }
  return {
    runId: v.runId,
    status: v.status ?? 'ok',
    energyJ: v.energyJ as number,
    emissionsG: v.emissionsG as number,
    durationS: v.durationS as number,
    quality: v.quality ?? 'estimated',
    methods: Array.isArray(v.methods) ? v.methods : [],
    nEpoch: v.nEpoch ?? 0,
    epochsDone: v.epochsDone ?? 0,
    predictedEnergyJ: null,
    scopeKind: typeof v.scopeKind === 'string' ? v.scopeKind : 'machine',
    kernelShare: typeof v.kernelShare === 'number' ? v.kernelShare : null,
    executionCount: v.executionCount ?? null,
    endedAt: v.endedAt ?? null,
    pue: v.pue ?? 1,
    countryIso3: v.countryIso3 ?? '',
    intensityGPerKWh: v.intensityGPerKWh ?? 0,
  };
}

/** Human names of the methods, as the tooltips show them. */
export const METHOD_NAMES: Record<Method, string> = {
  rapl: 'RAPL energy counters',
  nvml: 'NVML energy counter',
  'nvidia-smi': 'nvidia-smi power readings',
  'tdp-load': 'TDP × load (estimate)',
  'ram-model': 'RAM power model (estimate)',
  none: 'not present',
};

export const COMPONENT_NAMES: Record<Component, string> = { cpu: 'CPU', gpu: 'GPU', ram: 'RAM' };

/** `CPU: RAPL energy counters (measured); RAM: RAM power model (estimate)`. English source; translated by the caller. */
export function describeMethods(methods: IComponentMethod[]): string[] {
  return methods.map(
    m => `${COMPONENT_NAMES[m.component]}: ${METHOD_NAMES[m.method]}${m.measured ? ' (measured)' : ''}`,
  );
}
