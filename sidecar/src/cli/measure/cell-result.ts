/**
 * What `pnav measure` knows about one code cell once it has run: how the kernel answered and the
 * sidecar's run for it, reduced to the figures the table, the reports and the notebook metadata show.
 */
import type { Component, Method, Run } from '../../api/schemas.js';
import type { ExecutionStatus } from './kernel.js';
import type { NbOutput } from './outputs.js';

/** Execution statuses, plus `skipped` (empty cell) and `not-run` (an earlier cell stopped the notebook). */
export type CellStatus = ExecutionStatus | 'skipped' | 'not-run';

export interface ComponentMethod {
  method: Method;
  measured: boolean;
  /** 'coarse' (shorter than a few counter updates) or 'unavailable' (no value); absent from older sidecars. */
  quality?: string;
  /** What the figure covers ('machine', 'GPU 3', ...) and how it was obtained. */
  scope?: string;
  basis?: string;
}

/** The compact figures of a run: also the `pnav` cell metadata the lab extension reads. */
export interface RunSummary {
  runId: string;
  status: Run['status'];
  durationS: number;
  /** Machine energy in the run's window, before PUE. */
  energyJ: number;
  /** energyJ × PUE: what calculadorapnav reports (and what budgets count). */
  facilityEnergyJ: number;
  emissionsG: number;
  quality: Run['quality'];
  /** Included components only, each with the method that produced its figure. */
  methods: Partial<Record<Component, ComponentMethod>>;
  epochs: { index: number; status: string; durationS: number; energyJ: number; emissionsG: number }[];
  /** The kernel's share of the machine's energy (per component, each on its basis): an attribution, not a measurement. */
  attributedEnergyJ: number | null;
  /** What energyJ covers: the machine. */
  energyScope: 'machine';
}

export interface CellResult {
  number: number;
  index: number;
  cellId: string;
  firstLine: string;
  /** True when the notebook's own `%%pnav` line measured it; false when we wrapped the cell. */
  ownMagic: boolean;
  status: CellStatus;
  executionCount: number | null;
  wallS: number;
  error: { ename: string; evalue: string; traceback: string[] } | null;
  /** The cell's outputs, for the executed notebook. */
  outputs: NbOutput[];
  run: Run | null;
  summary: RunSummary | null;
  /** Why a figure is missing or how it was completed (e.g. run closed by us after a kernel death). */
  note: string | null;
}

export function summariseRun(run: Run): RunSummary {
  const methods: RunSummary['methods'] = {};
  for (const component of run.components) {
    const energy = run.energy[component];
    // 'none' is a component this machine does not have (no GPU): nothing was measured or estimated.
    if (energy.included && energy.method !== 'none') {
      methods[component] = {
        method: energy.method,
        measured: energy.measured,
        ...(energy.quality && { quality: energy.quality }),
        ...(energy.scope && { scope: energy.scope }),
        ...(energy.basis && { basis: energy.basis }),
      };
    }
  }
  return {
    runId: run.id,
    status: run.status,
    durationS: run.durationS,
    energyJ: run.energyJ,
    facilityEnergyJ: run.facilityEnergyJ,
    emissionsG: run.emissionsG,
    quality: run.quality,
    methods,
    epochs: run.epochs.map(epoch => ({
      index: epoch.index,
      status: epoch.status,
      durationS: epoch.durationS,
      energyJ: epoch.energyJ,
      emissionsG: epoch.emissionsG,
    })),
    attributedEnergyJ: run.attribution?.energyJ ?? null,
    energyScope: 'machine',
  };
}

export interface Totals {
  cells: number;
  measuredCells: number;
  ok: number;
  failed: number;
  durationS: number;
  energyJ: number;
  facilityEnergyJ: number;
  energyWh: number;
  emissionsG: number;
  /** measured when every measured cell is, estimated when none is, else mixed. */
  quality: 'measured' | 'estimated' | 'mixed' | 'none';
}

export function totalsOf(results: CellResult[]): Totals {
  const summaries = results.flatMap(result => (result.summary ? [result.summary] : []));
  const facilityEnergyJ = summaries.reduce((sum, s) => sum + s.facilityEnergyJ, 0);
  const qualities = new Set(summaries.map(s => s.quality));
  const quality =
    qualities.size === 0 ? 'none' : qualities.size === 1 ? [...qualities][0]! : ('mixed' as Totals['quality']);
  return {
    cells: results.length,
    measuredCells: summaries.length,
    ok: results.filter(result => result.status === 'ok').length,
    failed: results.filter(result => ['error', 'timeout', 'kernel-died', 'interrupted'].includes(result.status)).length,
    durationS: results.reduce((sum, result) => sum + result.wallS, 0),
    energyJ: summaries.reduce((sum, s) => sum + s.energyJ, 0),
    facilityEnergyJ,
    energyWh: facilityEnergyJ / 3600,
    emissionsG: summaries.reduce((sum, s) => sum + s.emissionsG, 0),
    quality,
  };
}
