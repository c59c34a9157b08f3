/**
 * Pure arithmetic of a measurement window: per-component energy between two meter readings,
 * totals, PUE, quality and the model size bucket.
 */
import { COMPONENTS, type Component, type EnergyBreakdown, type Run } from '../api/schemas.js';
import { componentEnergyJ, type MeterReading } from '../power/meter.js';
import type { PowerSource } from '../power/source.js';
import type { CarriedFigures } from '../store/open-run-checkpoints.js';

/** What a window's figures need to know of a source. */
export type SourceFacts = Pick<PowerSource, 'method' | 'measured'>;

export interface WindowFigures {
  durationS: number;
  energy: EnergyBreakdown;
  /** Sum of included components, before PUE. */
  energyJ: number;
}

export function windowFigures(
  start: MeterReading,
  end: MeterReading,
  sourceOf: (c: Component) => SourceFacts | undefined,
  included: readonly Component[],
  gpuIds: readonly number[] | null,
): WindowFigures {
  const durationS = Math.max(0, (end.monoMs - start.monoMs) / 1000);
  const energy = {} as EnergyBreakdown;
  let energyJ = 0;
  for (const c of COMPONENTS) {
    const source = sourceOf(c);
    const isIncluded = included.includes(c);
    const ids = c === 'gpu' ? gpuIds : null;
    const e =
      source && isIncluded
        ? Math.max(0, componentEnergyJ(end.components[c], ids) - componentEnergyJ(start.components[c], ids))
        : 0;
    energy[c] = {
      energyJ: e,
      powerW: durationS > 0 ? e / durationS : 0,
      method: source?.method ?? 'none',
      measured: source?.measured ?? false,
      included: isIncluded,
    };
    energyJ += e;
  }
  return { durationS, energy, energyJ };
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
    if (window.energy[c].included) energyJ += e;
  }
  return { durationS, energy, energyJ };
}
