/**
 * Pure arithmetic of a measurement window: per-component energy between two meter readings,
 * totals, PUE, quality and the model size bucket. Every component figure says how it was obtained:
 * method, measured or estimated, what it covers (scope), its basis, and whether the window was long
 * enough for the source's update period (quality).
 */
import { COMPONENTS, type Component, type EnergyBreakdown, type Run } from '../api/schemas.js';
import { componentEnergyJ, type MeterReading, type WindowHealth } from '../power/meter.js';
import type { ComponentProvenance } from '../power/provenance.js';
import type { PowerSource } from '../power/source.js';
import type { CarriedFigures } from '../store/open-run-checkpoints.js';

/** What a window's figures need to know of a source (a live one, or as a stored run recorded it). */
export type SourceFacts = Pick<PowerSource, 'method' | 'measured'> & Partial<Pick<PowerSource, 'updatePeriodMs'>>;

/** A window shorter than this many source updates is 'coarse'. */
export const COARSE_UPDATES = 3;
export type { ComponentProvenance };

export interface WindowContext {
  sourceOf: (c: Component) => SourceFacts | undefined;
  included: readonly Component[];
  gpuIds: readonly number[] | null;
  provenance?: (c: Component) => ComponentProvenance | undefined;
  /** What each counted GPU covers ('whole GPU', or the MIG note). */
  gpuScope?: string | null;
  health?: (c: Component, startMonoMs: number, endMonoMs: number) => WindowHealth;
}

export interface WindowFigures {
  durationS: number;
  energy: EnergyBreakdown;
  /** Sum of included components, before PUE. */
  energyJ: number;
  windowQuality: 'fine' | 'coarse';
  /** Every degraded component's reason, or null. */
  degraded: string | null;
}

function gpuScopeLabel(ids: readonly number[] | null, perGpu: string | null | undefined): string {
  const which = ids === null ? 'every GPU of the sidecar' : ids.length === 0 ? 'no GPU' : `GPU ${ids.join(', ')}`;
  return perGpu && perGpu !== 'whole GPU' ? `${which}: ${perGpu}` : which;
}

export function windowFigures(start: MeterReading, end: MeterReading, ctx: WindowContext): WindowFigures {
  const durationS = Math.max(0, (end.monoMs - start.monoMs) / 1000);
  const energy = {} as EnergyBreakdown;
  let energyJ = 0;
  let coarse = false;
  const degraded: string[] = [];
  for (const c of COMPONENTS) {
    const source = ctx.sourceOf(c);
    const isIncluded = ctx.included.includes(c);
    const ids = c === 'gpu' ? ctx.gpuIds : null;
    const e =
      source && isIncluded
        ? Math.max(0, componentEnergyJ(end.components[c], ids) - componentEnergyJ(start.components[c], ids))
        : 0;
    const health = source && ctx.health ? ctx.health(c, start.monoMs, end.monoMs) : null;
    const updateMs = source?.updatePeriodMs ?? 0;
    const quality = health?.unavailable
      ? 'unavailable'
      : updateMs > 0 && durationS * 1000 < COARSE_UPDATES * updateMs
        ? 'coarse'
        : 'fine';
    const provenance = ctx.provenance?.(c);
    energy[c] = {
      energyJ: e,
      powerW: durationS > 0 ? e / durationS : 0,
      method: source?.method ?? 'none',
      // A source that gave no value in the window measured nothing: its zero is not a measurement.
      measured: (source?.measured ?? false) && quality !== 'unavailable',
      included: isIncluded,
      scope: c === 'gpu' ? gpuScopeLabel(ids, ctx.gpuScope) : (provenance?.scope ?? 'machine'),
      basis: provenance?.basis ?? (source ? source.method : 'no source'),
      quality,
      degraded: health?.degraded ?? null,
    };
    if (isIncluded && source && source.method !== 'none') {
      energyJ += e;
      if (quality === 'coarse') coarse = true;
      if (health?.degraded) degraded.push(`${c}: ${health.degraded}`);
    }
  }
  return {
    durationS,
    energy,
    energyJ,
    windowQuality: coarse ? 'coarse' : 'fine',
    degraded: degraded.join('; ') || null,
  };
}

/** 'measured' when every included component present was read from a counter. */
export function quality(energy: EnergyBreakdown): Run['quality'] {
  const present = COMPONENTS.map(c => energy[c]).filter(e => e.included && e.method !== 'none');
  const measured = present.filter(e => e.measured).length;
  if (present.length > 0 && measured === present.length) return 'measured';
  return measured === 0 ? 'estimated' : 'mixed';
}

/** calculadorapnav's model size: < 1e8 parameters small, < 1e9 medium, else large. */
export function sizeBucket(nParameters: number): 'small' | 'medium' | 'large' {
  if (nParameters < 1e8) return 'small';
  if (nParameters < 1e9) return 'medium';
  return 'large';
}

/** An all-zero breakdown (nothing measured yet). */
export function zeroBreakdown(
  sourceOf: (c: Component) => PowerSource | undefined,
  included: readonly Component[],
): EnergyBreakdown {
  const energy = {} as EnergyBreakdown;
  for (const c of COMPONENTS) {
    const source = sourceOf(c);
    energy[c] = {
      energyJ: 0,
      powerW: 0,
      method: source?.method ?? 'none',
      measured: source?.measured ?? false,
      included: included.includes(c),
    };
  }
  return energy;
}

/** The sources a stored run was measured with, as its breakdown recorded them (after a restart the machine's may differ). */
export function storedSourceFacts(energy: EnergyBreakdown): (c: Component) => SourceFacts | undefined {
  return c => (energy[c] && energy[c].method !== 'none' ? energy[c] : undefined);
}

/** A window's figures plus what the run measured before a sidecar restart. */
export function addCarried(window: WindowFigures, carried: CarriedFigures | null): WindowFigures {
  if (!carried) return window;
  const durationS = window.durationS + carried.durationS;
  const energy = {} as EnergyBreakdown;
  let energyJ = 0;
  for (const c of COMPONENTS) {
    const e = window.energy[c].energyJ + (carried.energyJ[c] ?? 0);
    energy[c] = { ...window.energy[c], energyJ: e, powerW: durationS > 0 ? e / durationS : 0 };
    if (window.energy[c].included && window.energy[c].method !== 'none') energyJ += e;
  }
  return { ...window, durationS, energy, energyJ };
}
