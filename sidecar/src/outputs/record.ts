/**
 * A run of the ledger → the record calculadorapnav would have produced for it
 * (its EmissionsData columns, size buckets and per-epoch rule). Units: kWh, kg CO2eq, s, W, GB.
 */
import type { Epoch, Run, Status } from '../api/schemas.js';
import { type PnavRecord, PUE_IS_INT } from './csv/columns.js';

export type HardwareFacts = Status['hardware'];

const J_PER_KWH = 3_600_000;

export function joulesToKWh(energyJ: number): number {
  return energyJ / J_PER_KWH;
}

/** calculadorapnav's size buckets by parameter count; 0 parameters (no model found) is "small". */
export function modelSizeBucket(nParameters: number): 'small' | 'medium' | 'large' {
  if (nParameters < 100_000_000) return 'small';
  if (nParameters < 1_000_000_000) return 'medium';
  return 'large';
}

/**
 * `datetime.now().strftime("%Y-%m-%dT%H:%M:%S")`: local time, no zone, no fraction. Local to the
 * calling process when its UTC offset is known (the client sends it), else to the sidecar.
 */
export function pnavTimestamp(date: Date, utcOffsetMin?: number | null): string {
  const two = (n: number) => String(n).padStart(2, '0');
  if (utcOffsetMin !== undefined && utcOffsetMin !== null) {
    const local = new Date(date.getTime() + utcOffsetMin * 60_000);
    return (
      `${local.getUTCFullYear()}-${two(local.getUTCMonth() + 1)}-${two(local.getUTCDate())}` +
      `T${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}`
    );
  }
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}` +
    `T${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}

/** Epochs that ran to their end: only these count as measured epochs. */
export function measuredEpochs(run: Run): Epoch[] {
  return run.epochs.filter(epoch => epoch.status === 'ok');
}

/** calculadorapnav's n_batch, or the batches we counted when the user gave none. */
export function effectiveNBatch(run: Run): number {
  return run.nBatch > 0 ? run.nBatch : run.batchesCounted;
}

/** calculadorapnav's n_epoch, or the epochs we measured when the user gave none. */
export function effectiveNEpoch(run: Run): number {
  return run.nEpoch > 0 ? run.nEpoch : measuredEpochs(run).length;
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Component energy as calculadorapnav reports it: kWh including PUE, 0 when the run excluded it. */
function componentKWh(run: Run, component: 'cpu' | 'gpu' | 'ram'): number {
  const energy = run.energy[component];
  return energy.included ? joulesToKWh(energy.energyJ * run.pue) : 0;
}

/** Mean power over the run (calculadorapnav reports its last 15 s sample instead; see README). */
function componentPowerW(run: Run, component: 'cpu' | 'gpu' | 'ram'): number {
  const energy = run.energy[component];
  return energy.included ? energy.powerW : 0;
}

interface PerEpoch {
  energyKWh: number;
  timeS: number;
  emissionsKg: number;
}

/**
 * Measured epochs → their means. Otherwise calculadorapnav's per-epoch rule: totals divided
 * by n_epoch; energy and time only for training, emissions for any process type.
 */
function perEpoch(run: Run, nEpoch: number, energyKWh: number, emissionsKg: number): PerEpoch {
  const measured = measuredEpochs(run);
  if (measured.length > 0) {
    return {
      energyKWh: joulesToKWh(mean(measured.map(e => e.facilityEnergyJ))),
      timeS: mean(measured.map(e => e.durationS)),
      emissionsKg: mean(measured.map(e => e.emissionsG)) / 1000,
    };
  }
  const training = run.typeProcess === 'training' && nEpoch > 0;
  return {
    energyKWh: training ? energyKWh / nEpoch : 0,
    timeS: training ? run.durationS / nEpoch : 0,
    emissionsKg: nEpoch > 0 ? emissionsKg / nEpoch : 0,
  };
}

export interface RecordOptions {
  /** The model id of the submission; defaults to the run's own. */
  modelId?: string | null;
  /** When the run is still open (a preview): the moment to stamp. */
  now?: Date;
}

export function runToRecord(run: Run, hardware: HardwareFacts, options: RecordOptions = {}): PnavRecord {
  const energyKWh = joulesToKWh(run.facilityEnergyJ);
  const emissionsKg = run.emissionsG / 1000;
  const nBatch = effectiveNBatch(run);
  const nEpoch = effectiveNEpoch(run);
  const epoch = perEpoch(run, nEpoch, energyKWh, emissionsKg);
  const location = run.location;
  const endedAt = run.endedAt ? new Date(run.endedAt) : (options.now ?? new Date());
  const record: PnavRecord = {
    timestamp: pnavTimestamp(endedAt, run.client.utcOffsetMin),
    type_process: run.typeProcess,
    model_id: options.modelId !== undefined ? options.modelId : run.modelId,
    // calculadorapnav writes ref = 0 for a cloud region's row.
    ref: location.countrySource === 'cloud-region' ? 0 : location.renewableShare,
    duration: run.durationS,
    emissions: emissionsKg,
    emissions_rate: run.durationS > 0 ? emissionsKg / run.durationS : 0,
    emissions_batch: nBatch > 0 ? emissionsKg / nBatch : 0,
    emissions_epoch: epoch.emissionsKg,
    cpu_power: componentPowerW(run, 'cpu'),
    gpu_power: componentPowerW(run, 'gpu'),
    ram_power: componentPowerW(run, 'ram'),
    cpu_energy: componentKWh(run, 'cpu'),
    gpu_energy: componentKWh(run, 'gpu'),
    ram_energy: componentKWh(run, 'ram'),
    energy_consumed: energyKWh,
    energy_batch: nBatch > 0 ? energyKWh / nBatch : 0,
    n_batch: nBatch,
    time_batch: nBatch > 0 ? run.durationS / nBatch : 0,
    energy_epoch: epoch.energyKWh,
    n_epoch: nEpoch,
    time_epoch: epoch.timeS,
    model_size: modelSizeBucket(run.model.nParameters),
    n_parameters: run.model.nParameters,
    n_features: run.model.nFeatures,
    country_name: location.countryName,
    country_iso_code: location.countryIso3,
    // calculadorapnav online always sends a str region (IP geolocation); "" keeps the type, the CSV field is empty either way.
    region: location.region ?? '',
    // calculadorapnav writes "" (not None) for both on private infrastructure.
    cloud_provider: location.cloudProvider ?? '',
    cloud_region: location.cloudRegion ?? '',
    os: run.client.os,
    python_version: run.client.pythonVersion,
    cpu_count: hardware.cpuCount,
    cpu_model: hardware.cpuModel,
    // calculadorapnav leaves both None when no GPU is found.
    gpu_count: hardware.gpuCount > 0 ? hardware.gpuCount : null,
    gpu_model: hardware.gpuCount > 0 ? hardware.gpuModel : null,
    ram_total_size: hardware.ramTotalGB,
    type_ram: run.typeRam,
    on_cloud: location.onCloud ? 'Y' : 'N',
    pue: run.pue,
  };
  // An int PUE is written as calculadorapnav writes the value it was given: `1`, not `1.0`.
  if (run.pueIsInt && Number.isInteger(run.pue)) record[PUE_IS_INT] = true;
  return record;
}
