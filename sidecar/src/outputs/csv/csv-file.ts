/**
 * The PNAV CSV files of a run: `emissions_<type_process>.csv` (calculadorapnav's 40
 * columns, one row per run) and `emissions_<type_process>_epochs.csv` (one row per
 * measured epoch, same units: s, kWh including PUE, kg CO2eq).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Epoch, Run } from '../../api/schemas.js';
import { csvCells, pyInt, pyRepr } from '../py-format.js';
import { type HardwareFacts, joulesToKWh, measuredEpochs, pnavTimestamp, runToRecord } from '../record.js';
import { PNAV_COLUMNS } from './columns.js';
import { type OnCsvWrite, upsertRows } from './csv-table.js';
import { METHOD_COLUMNS, methodRows, methodsFileName } from './methods-file.js';

export const EPOCH_COLUMNS = [
  'run_id',
  'epoch',
  'timestamp',
  'duration',
  'cpu_energy',
  'gpu_energy',
  'ram_energy',
  'energy_consumed',
  'emissions',
  'n_batch',
] as const;

export interface CsvOutput {
  dir: string;
  file?: string;
  onCsvWrite: OnCsvWrite;
}

export class CsvOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvOutputError';
  }
}

/** calculadorapnav's default name, `emissions_<type_process>.csv`. */
export function csvFileName(typeProcess: string, file?: string): string {
  return file ?? `emissions_${typeProcess}.csv`;
}

/** `emissions_training.csv` → `emissions_training_epochs.csv`. */
export function epochsFileName(csvName: string): string {
  const ext = path.extname(csvName);
  return `${ext ? csvName.slice(0, -ext.length) : csvName}_epochs${ext || '.csv'}`;
}

function epochKWh(run: Run, epoch: Epoch, component: 'cpu' | 'gpu' | 'ram'): number {
  const energy = epoch.energy[component];
  return energy.included ? joulesToKWh(energy.energyJ * run.pue) : 0;
}

/** One row per measured epoch of the run. */
export function epochRows(run: Run): string[][] {
  return measuredEpochs(run).map(epoch => [
    run.id,
    pyInt(epoch.index),
    pnavTimestamp(new Date(epoch.endedAt ?? epoch.startedAt)),
    pyRepr(epoch.durationS),
    pyRepr(epochKWh(run, epoch, 'cpu')),
    pyRepr(epochKWh(run, epoch, 'gpu')),
    pyRepr(epochKWh(run, epoch, 'ram')),
    pyRepr(joulesToKWh(epoch.facilityEnergyJ)),
    pyRepr(epoch.emissionsG / 1000),
    pyInt(epoch.nBatch),
  ]);
}

async function assertDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  // calculadorapnav: OSError("Folder '…' doesn't exist !"); we say the same, in a sentence.
  if (!info?.isDirectory()) throw new CsvOutputError(`output directory '${dir}' does not exist`);
}

export interface CsvWriteResult {
  path: string;
  epochsPath: string | null;
  /** `<name>_methods.csv`: how every figure of the row was obtained. */
  methodsPath: string;
  backupPath: string | null;
  /** Files appended to without fdatasync (`deferSync`): the caller syncs them (syncFile). */
  unsyncedPaths: string[];
}

export async function writeRunCsv(
  run: Run,
  hardware: HardwareFacts,
  output: CsvOutput,
  opts: { deferSync?: boolean } = {},
): Promise<CsvWriteResult> {
  const syncAppend = !opts.deferSync;
  const file = csvFileName(run.typeProcess, output.file);
  if (file.includes('/') || file.includes('\\') || file === '.' || file === '..') {
    throw new CsvOutputError(`output file '${file}' must be a file name, not a path`);
  }
  const dir = path.resolve(output.dir);
  await assertDirectory(dir);
  const record = runToRecord(run, hardware);
  const main = await upsertRows(path.join(dir, file), PNAV_COLUMNS, run.id, [csvCells(record)], output.onCsvWrite, {
    syncAppend,
  });
  const unsyncedPaths = main.unsynced ? [main.path] : [];
  const rows = epochRows(run);
  let epochsPath: string | null = null;
  if (rows.length > 0) {
    const epochs = await upsertRows(
      path.join(dir, epochsFileName(file)),
      EPOCH_COLUMNS,
      run.id,
      rows,
      output.onCsvWrite,
      { syncAppend },
    );
    epochsPath = epochs.path;
    if (epochs.unsynced) unsyncedPaths.push(epochs.path);
  }
  const methods = await upsertRows(
    path.join(dir, methodsFileName(file)),
    METHOD_COLUMNS,
    run.id,
    methodRows(run),
    output.onCsvWrite,
    { syncAppend },
  );
  if (methods.unsynced) unsyncedPaths.push(methods.path);
  return { path: main.path, epochsPath, methodsPath: methods.path, backupPath: main.backupPath, unsyncedPaths };
}
