/**
 * The record preview, readable: each of calculadorapnav's 40 fields with a name, its value in the
 * panel's units (energy in kWh becomes `1.35 kJ`, emissions in kg become `12.3 mg CO₂e`) and the
 * exact value that will be sent beside it. Pure.
 */
import { formatDuration, formatEmissions, formatEnergy, formatNumber, formatPower } from './format';

export interface IPreviewRow {
  key: string;
  /** Human name of the field. */
  label: string;
  /** The value as the panel shows it, with its unit. */
  shown: string;
  /** The value as it is sent (calculadorapnav's units), when it differs from `shown`. */
  sent: string | null;
}

const J_PER_KWH = 3.6e6;

type Reader = (value: number) => string;

const energy: Reader = kWh => formatEnergy(kWh * J_PER_KWH);
const emissions: Reader = kg => formatEmissions(kg * 1000);

/** Fields whose value has a unit: [label, how to show it, the unit it is sent in]. */
const UNITS: Record<string, [string, Reader, string]> = {
  duration: ['Duration', formatDuration, 's'],
  emissions: ['Emissions', emissions, 'kg CO₂e'],
  emissions_rate: ['Emission rate', kgPerS => `${formatEmissions(kgPerS * 1000)}/s`, 'kg/s'],
  emissions_batch: ['Emissions per batch', emissions, 'kg CO₂e'],
  emissions_epoch: ['Emissions per epoch', emissions, 'kg CO₂e'],
  cpu_power: ['CPU power', formatPower, 'W'],
  gpu_power: ['GPU power', formatPower, 'W'],
  ram_power: ['RAM power', formatPower, 'W'],
  cpu_energy: ['CPU energy', energy, 'kWh'],
  gpu_energy: ['GPU energy', energy, 'kWh'],
  ram_energy: ['RAM energy', energy, 'kWh'],
  energy_consumed: ['Energy consumed', energy, 'kWh'],
  energy_batch: ['Energy per batch', energy, 'kWh'],
  energy_epoch: ['Energy per epoch', energy, 'kWh'],
  time_batch: ['Time per batch', formatDuration, 's'],
  time_epoch: ['Time per epoch', formatDuration, 's'],
  ram_total_size: ['RAM size', gb => `${formatNumber(gb)} GB`, 'GB'],
};

const NAMES: Record<string, string> = {
  timestamp: 'Time',
  type_process: 'Process',
  model_id: 'Model id',
  ref: 'Reference',
  n_batch: 'Batches',
  n_epoch: 'Epochs',
  model_size: 'Model size',
  n_parameters: 'Parameters',
  n_features: 'Features',
  country_name: 'Country',
  country_iso_code: 'Country code',
  region: 'Region',
  cloud_provider: 'Cloud provider',
  cloud_region: 'Cloud region',
  os: 'Operating system',
  python_version: 'Python',
  cpu_count: 'CPU count',
  cpu_model: 'CPU model',
  gpu_count: 'GPU count',
  gpu_model: 'GPU model',
  type_ram: 'RAM type',
  on_cloud: 'On cloud',
  pue: 'PUE',
};

/** The fields a reader checks first; the others follow in record order. */
export const MAIN_FIELDS = [
  'type_process',
  'model_id',
  'energy_consumed',
  'emissions',
  'duration',
  'n_epoch',
  'country_name',
  'pue',
];

function text(value: unknown): string {
  if (value === null || value === undefined || value === '') return '–';
  return String(value);
}

/** Any record of the sidecar's (`PnavRecord`), or some of its columns. */
export function previewRows(record: Readonly<Record<string, unknown>>): IPreviewRow[] {
  const rows = Object.entries(record).map(([key, value]): IPreviewRow => {
    const unit = UNITS[key];
    if (unit && typeof value === 'number') {
      const [label, read, sentUnit] = unit;
      return { key, label, shown: read(value), sent: `${value} ${sentUnit}` };
    }
    return { key, label: unit?.[0] ?? NAMES[key] ?? key, shown: text(value), sent: null };
  });
  const rank = (row: IPreviewRow) => {
    const at = MAIN_FIELDS.indexOf(row.key);
    return at < 0 ? MAIN_FIELDS.length : at;
  };
  return rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => rank(a.row) - rank(b.row) || a.i - b.i)
    .map(x => x.row);
}
