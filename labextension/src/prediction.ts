/**
 * Prediction of a run's total energy and CO₂ from its finished epochs.
 *
 * As CarbonTracker does: the mean of the finished epochs times the announced
 * number of epochs (`--epochs N`). Linear extrapolation, labelled as such.
 */
import type { IRun } from './types';

export interface IPrediction {
  /** Facility energy (× PUE) predicted for all `nEpoch` epochs. */
  energyJ: number;
  emissionsG: number;
  durationS: number;
  epochsDone: number;
  nEpoch: number;
  /** Energy still to come: prediction minus the finished epochs. */
  remainingEnergyJ: number;
  remainingDurationS: number;
}

/** Null until at least one epoch has finished, or when the run did not announce its epoch count. */
export function predictRun(run: Pick<IRun, 'nEpoch' | 'epochs'>): IPrediction | null {
  const done = run.epochs.filter(epoch => epoch.status === 'ok');
  if (run.nEpoch <= 0 || done.length === 0) {
    return null;
  }
  const sum = (pick: (epoch: IRun['epochs'][number]) => number) => done.reduce((acc, epoch) => acc + pick(epoch), 0);
  const energyDoneJ = sum(epoch => epoch.facilityEnergyJ);
  const emissionsDoneG = sum(epoch => epoch.emissionsG);
  const durationDoneS = sum(epoch => epoch.durationS);
  const scale = run.nEpoch / done.length;
  const energyJ = energyDoneJ * scale;
  const durationS = durationDoneS * scale;
  return {
    energyJ,
    emissionsG: emissionsDoneG * scale,
    durationS,
    epochsDone: done.length,
    nEpoch: run.nEpoch,
    remainingEnergyJ: Math.max(0, energyJ - energyDoneJ),
    remainingDurationS: Math.max(0, durationS - durationDoneS),
  };
}
