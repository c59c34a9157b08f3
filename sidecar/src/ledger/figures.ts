/**
 * Pure arithmetic of a measurement window: per-component energy between two meter readings,
 * totals, PUE, quality and the model size bucket.
 */
import { COMPONENTS, type Component, type EnergyBreakdown, type Run } from '../api/schemas.js';
import { componentEnergyJ, type MeterReading } from '../power/meter.js';
import type { PowerSource } from '../power/source.js';

export interface WindowFigures {
  durationS: number;
  energy: EnergyBreakdown;
  /** Sum of included components, before PUE. */
  energyJ: number;
}

export function windowFigures(
  start: MeterReading,
  end: MeterReading,
  sourceOf: (c: Component) => PowerSource | undefined,
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
