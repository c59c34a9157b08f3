/**
 * calculadorapnav's 40 output columns, in the field order of its `EmissionsData`
 * dataclass (output_methods/emissions_data.py). The CSV header and the keys of the
 * JSON submission are exactly this list, in this order.
 */
export const PNAV_COLUMNS = [
  'timestamp',
  'type_process',
  'model_id',
  'ref',
  'duration',
  'emissions',
  'emissions_rate',
  'emissions_batch',
  'emissions_epoch',
  'cpu_power',
  'gpu_power',
  'ram_power',
  'cpu_energy',
  'gpu_energy',
  'ram_energy',
  'energy_consumed',
  'energy_batch',
  'n_batch',
  'time_batch',
  'energy_epoch',
  'n_epoch',
  'time_epoch',
  'model_size',
  'n_parameters',
  'n_features',
  'country_name',
  'country_iso_code',
  'region',
  'cloud_provider',
  'cloud_region',
  'os',
  'python_version',
  'cpu_count',
  'cpu_model',
  'gpu_count',
  'gpu_model',
  'ram_total_size',
  'type_ram',
  'on_cloud',
  'pue',
] as const;

export type PnavColumn = (typeof PNAV_COLUMNS)[number];

export const PNAV_HEADER = PNAV_COLUMNS.join(',');

/**
 * How calculadorapnav's Python values are typed, which decides how they are written:
 * - `float`: always a Python float (`12.0`, `1.234e-05`);
 * - `ratio`: a float, but the literal int `0` where calculadorapnav never computed it: per-batch and
 *   per-epoch values when the divisor (n_batch / n_epoch) is 0, gpu_energy when no GPU is tracked;
 * - `int`: a Python int; `str`: text; `features`: an int or a Keras shape tuple.
 */
export type ColumnKind = 'str' | 'float' | 'ratio' | 'int' | 'features';

export const COLUMN_KINDS: Record<PnavColumn, ColumnKind> = {
  timestamp: 'str',
  type_process: 'str',
  model_id: 'str',
  ref: 'ratio', // 0 (an int) for a cloud region's row
  duration: 'float',
  emissions: 'float',
  emissions_rate: 'float',
  emissions_batch: 'ratio',
  emissions_epoch: 'ratio',
  cpu_power: 'float',
  gpu_power: 'float',
  ram_power: 'float',
  cpu_energy: 'float',
  gpu_energy: 'ratio',
  ram_energy: 'float',
  energy_consumed: 'float',
  energy_batch: 'ratio',
  n_batch: 'int',
  time_batch: 'ratio',
  energy_epoch: 'ratio',
  n_epoch: 'int',
  time_epoch: 'ratio',
  model_size: 'str',
  n_parameters: 'int',
  n_features: 'features',
  country_name: 'str',
  country_iso_code: 'str',
  region: 'str',
  cloud_provider: 'str',
  cloud_region: 'str',
  os: 'str',
  python_version: 'str',
  cpu_count: 'int',
  cpu_model: 'str',
  gpu_count: 'int',
  gpu_model: 'str',
  ram_total_size: 'float',
  type_ram: 'str',
  on_cloud: 'str',
  pue: 'float',
};

/** A Keras input shape: `(784,)`, or a list of shapes for multi-input models. */
export type NFeatures = number | number[] | number[][];

/**
 * Marks a record whose `pue` the caller gave as a Python int: written `1` rather than `1.0`. A symbol,
 * so it never shows up in the JSON of a preview.
 */
export const PUE_IS_INT = Symbol('pueIsInt');

/** One calculadorapnav record: units kWh, kg CO2eq, s, W, GB. `null` is Python's None. */
export interface PnavRecord {
  [PUE_IS_INT]?: true;
  timestamp: string;
  type_process: 'training' | 'inference';
  model_id: string | null;
  ref: number | null;
  duration: number;
  emissions: number;
  emissions_rate: number;
  emissions_batch: number;
  emissions_epoch: number;
  cpu_power: number;
  gpu_power: number;
  ram_power: number;
  cpu_energy: number;
  gpu_energy: number;
  ram_energy: number;
  energy_consumed: number;
  energy_batch: number;
  n_batch: number;
  time_batch: number;
  energy_epoch: number;
  n_epoch: number;
  time_epoch: number;
  model_size: 'small' | 'medium' | 'large';
  n_parameters: number;
  n_features: NFeatures;
  country_name: string;
  country_iso_code: string;
  region: string;
  cloud_provider: string;
  cloud_region: string;
  os: string | null;
  python_version: string | null;
  cpu_count: number | null;
  cpu_model: string | null;
  gpu_count: number | null;
  gpu_model: string | null;
  ram_total_size: number | null;
  type_ram: string;
  on_cloud: 'Y' | 'N';
  pue: number;
}
