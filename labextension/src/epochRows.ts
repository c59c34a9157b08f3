/**
 * The rows of a run's epoch table: one per epoch, numbered as the user's loop numbers them
 * (`for epoch in pnav_lab.epochs(range(10))` yields 0…9, Keras and Lightning count from 0, and
 * the epochs CSV does too), then one "outside epochs" row with what the run spent before,
 * between and after its epochs (set-up, evaluation), so the rows add up to the run.
 *
 * Pure: no DOM.
 */
import { COMPONENTS, type Component, type IEpoch, type IRun } from './types';

export interface IEpochRow {
  /** `null` for the outside-epochs row. */
  index: number | null;
  status: IEpoch['status'] | 'outside';
  durationS: number;
  /** Facility energy (× PUE), as the run's total. */
  facilityEnergyJ: number;
  emissionsG: number;
  /** IT energy (before PUE): the bar's full length is the largest row's. */
  itEnergyJ: number;
  /** IT energy per included component (what the bar splits). */
  componentsJ: Partial<Record<Component, number>>;
}

/** Rounding in the sidecar leaves crumbs of a few µJ: anything below this is no outside share. */
const NEGLIGIBLE_J = 1e-6;

export function epochRows(
  run: Pick<IRun, 'epochs' | 'status' | 'durationS' | 'energyJ' | 'facilityEnergyJ' | 'emissionsG' | 'energy'>,
): IEpochRow[] {
  const rows: IEpochRow[] = run.epochs.map(epoch => ({
    index: epoch.index,
    status: epoch.status,
    durationS: epoch.durationS,
    facilityEnergyJ: epoch.facilityEnergyJ,
    emissionsG: epoch.emissionsG,
    itEnergyJ: epoch.energyJ,
    componentsJ: Object.fromEntries(
      COMPONENTS.filter(c => epoch.energy[c].included).map(c => [c, epoch.energy[c].energyJ]),
    ),
  }));
  if (rows.length === 0) return rows;
  const sum = (pick: (row: IEpochRow) => number) => rows.reduce((total, row) => total + pick(row), 0);
  const outsideJ = run.facilityEnergyJ - sum(row => row.facilityEnergyJ);
  // An open run's total trails its open epoch between progress events: only a closed run has a true remainder.
  if (run.status === 'open' || outsideJ <= NEGLIGIBLE_J) return rows;
  const componentsJ: Partial<Record<Component, number>> = {};
  for (const c of COMPONENTS) {
    if (!run.energy[c].included) continue;
    componentsJ[c] = Math.max(0, run.energy[c].energyJ - sum(row => row.componentsJ[c] ?? 0));
  }
  rows.push({
    index: null,
    status: 'outside',
    durationS: Math.max(0, run.durationS - sum(row => row.durationS)),
    facilityEnergyJ: outsideJ,
    emissionsG: Math.max(0, run.emissionsG - sum(row => row.emissionsG)),
    itEnergyJ: Math.max(0, run.energyJ - sum(row => row.itEnergyJ)),
    componentsJ,
  });
  return rows;
}
