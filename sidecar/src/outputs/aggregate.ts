/**
 * Notebook-to-PNAV: several runs of one process type → one synthetic run, so the
 * record is built by the same `runToRecord` as a single run. Energies, durations
 * and counts are summed, epochs concatenated, model facts taken from the run that
 * named the model.
 */
import { createHash } from 'node:crypto';
import type { ComponentEnergy, Run } from '../api/schemas.js';
import { byIso } from '../util/iso-order.js';

/** A stable id for a set of runs: the same selection always gets the same record id. */
export function aggregateId(runIds: string[]): string {
  if (runIds.length === 1) return runIds[0];
  const digest = createHash('sha256')
    .update([...runIds].sort().join('\n'))
    .digest('hex');
  return `agg-${digest.slice(0, 24)}`;
}

function sum(values: number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

function sumComponent(runs: Run[], component: 'cpu' | 'gpu' | 'ram'): ComponentEnergy {
  const parts = runs.map(run => run.energy[component]).filter(part => part.included);
  if (parts.length === 0) return { ...runs[0].energy[component] };
  const energyJ = sum(parts.map(p => p.energyJ));
  const durationS = sum(runs.filter(run => run.energy[component].included).map(run => run.durationS));
  const methods = new Set(parts.map(p => p.method));
  return {
    energyJ,
    // Mean power over the summed time of the runs that included the component.
    powerW: durationS > 0 ? energyJ / durationS : 0,
    method: parts[parts.length - 1].method,
    measured: parts.every(p => p.measured) && methods.size === 1,
    included: true,
  };
}

/** The last run that says something about the model: a name, a model id or a parameter count. */
function modelRun(runs: Run[]): Run {
  const named = [...runs].reverse();
  return (
    named.find(run => run.model.name !== null) ??
    named.find(run => run.model.nParameters > 0) ??
    named.find(run => run.modelId !== null) ??
    runs[runs.length - 1]
  );
}

function quality(runs: Run[]): Run['quality'] {
  const kinds = new Set(runs.map(run => run.quality));
  return kinds.size === 1 ? runs[0].quality : 'mixed';
}

/** Runs in time order → one run. Throws on an empty list or mixed process types (a caller bug). */
export function aggregateRuns(runs: Run[]): Run {
  if (runs.length === 0) throw new Error('aggregateRuns needs at least one run');
  const types = new Set(runs.map(run => run.typeProcess));
  if (types.size > 1) throw new Error('aggregateRuns needs runs of a single type_process');
  if (runs.length === 1) return runs[0];
  const ordered = [...runs].sort((a, b) => byIso(a.startedAt, b.startedAt));
  const last = ordered[ordered.length - 1];
  const model = modelRun(ordered);
  const energyJ = sum(ordered.map(run => run.energyJ));
  const facilityEnergyJ = sum(ordered.map(run => run.facilityEnergyJ));
  const ended = ordered.map(run => run.endedAt).filter((t): t is string => t !== null);
  return {
    ...last,
    id: aggregateId(ordered.map(run => run.id)),
    status: ordered.every(run => run.status === 'ok')
      ? 'ok'
      : (ordered.find(run => run.status !== 'ok')?.status ?? 'ok'),
    cellId: null,
    executionCount: null,
    label: `${ordered.length} runs`,
    nEpoch: sum(ordered.map(run => run.nEpoch)),
    nBatch: sum(ordered.map(run => run.nBatch)),
    batchesCounted: sum(ordered.map(run => run.batchesCounted)),
    modelId: model.modelId ?? [...ordered].reverse().find(run => run.modelId !== null)?.modelId ?? null,
    model: model.model,
    // Mixed PUEs: the effective one, so that energies stay facility = IT x PUE.
    pue: energyJ > 0 ? facilityEnergyJ / energyJ : last.pue,
    components: [...new Set(ordered.flatMap(run => run.components))],
    startedAt: ordered[0].startedAt,
    endedAt: ended.length > 0 ? ended.sort()[ended.length - 1] : null,
    durationS: sum(ordered.map(run => run.durationS)),
    energy: { cpu: sumComponent(ordered, 'cpu'), gpu: sumComponent(ordered, 'gpu'), ram: sumComponent(ordered, 'ram') },
    energyJ,
    facilityEnergyJ,
    emissionsG: sum(ordered.map(run => run.emissionsG)),
    quality: quality(ordered),
    attribution: null,
    epochs: ordered.flatMap(run => run.epochs),
    error: ordered.map(run => run.error).find(e => e !== null) ?? null,
  };
}
