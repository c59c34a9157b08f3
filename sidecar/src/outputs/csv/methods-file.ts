/**
 * The companion `<name>_methods.csv` of a PNAV CSV: calculadorapnav's 40 columns cannot say how a
 * figure was obtained, so this file does, one row per component of each run and of each measured
 * epoch, keyed by run_id like the epochs file: method, measured / estimated / unavailable, window
 * quality, what the figure covers, its basis, any failure inside the window, and the kernel's share.
 */
import path from 'node:path';
import type { ComponentEnergy, EnergyBreakdown, Run } from '../../api/schemas.js';
import { pyInt, pyRepr } from '../py-format.js';
import { joulesToKWh, measuredEpochs } from '../record.js';

export const METHOD_COLUMNS = [
  'run_id',
  'epoch',
  'component',
  'method',
  'measurement',
  'quality',
  'scope',
  'basis',
  'degraded',
  'energy_consumed',
  'attribution_basis',
  'attributed_share',
] as const;

/** `emissions_training.csv` → `emissions_training_methods.csv`. */
export function methodsFileName(csvName: string): string {
  const ext = path.extname(csvName);
  return `${ext ? csvName.slice(0, -ext.length) : csvName}_methods${ext || '.csv'}`;
}

/** measured, estimated, or unavailable (the source gave no value: its zero is not a measurement). */
export function measurementOf(e: ComponentEnergy): 'measured' | 'estimated' | 'unavailable' | 'excluded' | 'absent' {
  if (!e.included) return 'excluded';
  if (e.method === 'none') return 'absent';
  if (e.quality === 'unavailable') return 'unavailable';
  return e.measured ? 'measured' : 'estimated';
}

function componentRows(run: Run, epoch: string, energy: EnergyBreakdown, withAttribution: boolean): string[][] {
  return (['cpu', 'gpu', 'ram'] as const).map(c => {
    const e = energy[c];
    const share = withAttribution ? run.attribution?.components?.[c] : undefined;
    return [
      run.id,
      epoch,
      c,
      e.method,
      measurementOf(e),
      e.quality ?? '',
      e.scope ?? '',
      e.basis ?? '',
      e.degraded ?? '',
      pyRepr(e.included ? joulesToKWh(e.energyJ * run.pue) : 0),
      share?.basis ?? '',
      share ? pyRepr(share.share) : '',
    ];
  });
}

/** The run's rows (epoch empty), then each measured epoch's. */
export function methodRows(run: Run): string[][] {
  return [
    ...componentRows(run, '', run.energy, true),
    ...measuredEpochs(run).flatMap(epoch => componentRows(run, pyInt(epoch.index), epoch.energy, false)),
  ];
}

/** The same facts as the methods CSV, as JSON objects (the JSON export's `methods` member). */
export function methodObjects(run: Run): Record<string, string>[] {
  return methodRows(run).map(row => Object.fromEntries(METHOD_COLUMNS.map((column, i) => [column, row[i] ?? ''])));
}

/** One sentence per component for free-text fields (BoAmps taskDescription). */
export function methodsSentence(run: Run): string {
  const parts = (['cpu', 'gpu', 'ram'] as const)
    .filter(c => run.energy[c].included && run.energy[c].method !== 'none')
    .map(c => {
      const e = run.energy[c];
      const quality = e.quality && e.quality !== 'fine' ? `, ${e.quality}` : '';
      const degraded = e.degraded ? `, degraded: ${e.degraded}` : '';
      return `${c} ${measurementOf(e)} by ${e.method}${quality} (${e.scope ?? 'machine'}${e.basis ? `; ${e.basis}` : ''})${degraded}`;
    });
  return `figures cover the ${run.energyScope ?? 'machine'}: ${parts.join('; ')}`;
}
