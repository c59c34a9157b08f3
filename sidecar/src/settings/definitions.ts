/**
 * The one set of user settings: each key with its zod schema, description, default, the
 * PNAV_* variable that sets it, and how a string (env var, INI file, `key=value`) becomes a value.
 * The token is deliberately not a setting: tokens never live in configuration files.
 */
import { z } from 'zod';
import {
  ComponentSchema,
  FactorsSchema,
  Iso3Schema,
  ModelIdSchema,
  PueSchema,
  TypeProcessSchema,
  TypeRamSchema,
} from '../api/schemas.js';

export const SETTING_KEYS = [
  'country',
  'region',
  'cloud_provider',
  'cloud_region',
  'factors',
  'pue',
  'type_ram',
  'components',
  'gpu_ids',
  'gpu_mode',
  'sample_interval_ms',
  'output_dir',
  'type_process',
  'endpoint_url',
  'model_id',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

export const GpuModeSchema = z.enum(['all', 'visible', 'by-process']);
export type GpuMode = z.infer<typeof GpuModeSchema>;

const ComponentsSchema = z
  .array(ComponentSchema)
  .min(1, 'must name at least one of cpu, gpu, ram')
  .refine(list => new Set(list).size === list.length, 'must not repeat a component');
const GpuIdsSchema = z.array(z.number().int().min(0, 'GPU ids are integers >= 0')).max(64);

/** Effective values; null means "not set" where the setting has no built-in value. */
export interface SettingValues {
  country: string | null;
  region: string | null;
  cloud_provider: string | null;
  cloud_region: string | null;
  factors: z.infer<typeof FactorsSchema>;
  pue: number;
  type_ram: z.infer<typeof TypeRamSchema>;
  components: z.infer<typeof ComponentSchema>[];
  gpu_ids: number[] | null;
  gpu_mode: GpuMode;
  sample_interval_ms: number;
  output_dir: string | null;
  type_process: z.infer<typeof TypeProcessSchema>;
  endpoint_url: string | null;
  model_id: string | null;
}

export interface SettingDef<K extends SettingKey = SettingKey> {
  key: K;
  /** Validates a typed value (from TOML, JSON or an argument); null is never a valid value, only a default. */
  schema: z.ZodType<NonNullable<SettingValues[K]>>;
  description: string;
  default: SettingValues[K];
  /** What the default means when it is null (shown by `pnav config`). */
  defaultMeaning?: string;
  env: string;
  /** Turns the text form (env var, INI value, `key=value`) into a candidate value for `schema`. */
  fromText: (text: string) => unknown;
}

const trimmed = (text: string): string => text.trim();
const commaList = (text: string): string[] =>
  text
    .trim()
    .replace(/^\[(.*)\]$/, '$1') // CodeCarbon users write gpu_ids = [0, 1]
    .split(',')
    .map(s => s.trim().replace(/^['"](.*)['"]$/, '$1'))
    .filter(s => s !== '');
const numberOrText = (text: string): unknown => {
  const t = text.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
};

function def<K extends SettingKey>(d: SettingDef<K>): SettingDef<K> {
  return d;
}

export const SETTINGS: { [K in SettingKey]: SettingDef<K> } = {
  country: def({
    key: 'country',
    schema: Iso3Schema,
    description: 'Country of the electricity grid, ISO 3166-1 alpha-3 (e.g. ESP): selects the carbon intensity',
    default: null,
    defaultMeaning: "guessed from the time zone, else Spain (calculadorapnav's fallback)",
    env: 'PNAV_COUNTRY',
    fromText: text => text.trim().toUpperCase(),
  }),
  region: def({
    key: 'region',
    schema: z.string().min(1).max(100),
    description: 'Region within the country (calculadorapnav lower-cases it)',
    default: null,
    env: 'PNAV_REGION',
    fromText: text => text.trim().toLowerCase(),
  }),
  cloud_provider: def({
    key: 'cloud_provider',
    schema: z.string().min(1).max(50),
    description: 'Cloud provider (e.g. aws, gcp, azure) when the machine is a cloud instance',
    default: null,
    env: 'PNAV_CLOUD_PROVIDER',
    fromText: text => text.trim().toLowerCase(),
  }),
  cloud_region: def({
    key: 'cloud_region',
    schema: z.string().min(1).max(100),
    description: 'Cloud region (e.g. europe-southwest1)',
    default: null,
    env: 'PNAV_CLOUD_REGION',
    fromText: trimmed,
  }),
  factors: def({
    key: 'factors',
    schema: FactorsSchema,
    description:
      "Emission factors of runs and PNAV records: 'pnav' (calculadorapnav 1.0.2's, comparable with the official calculator's records) or 'latest' (the project's newest figures)",
    default: 'pnav',
    env: 'PNAV_FACTORS',
    fromText: text => text.trim().toLowerCase(),
  }),
  pue: def({
    key: 'pue',
    schema: PueSchema,
    description: "Power usage effectiveness of the data centre (1 = no overhead); multiplies every component's energy",
    default: 1,
    env: 'PNAV_PUE',
    fromText: numberOrText,
  }),
  type_ram: def({
    key: 'type_ram',
    schema: TypeRamSchema,
    description: 'RAM technology for the RAM model and the CSV: DDR3, DDR4 or DDR5',
    default: 'DDR4',
    env: 'PNAV_TYPE_RAM',
    fromText: text => text.trim().toUpperCase(),
  }),
  components: def({
    key: 'components',
    schema: ComponentsSchema,
    description: 'What a run counts: any of cpu, gpu, ram (excluded components are shown as excluded, not as zero)',
    default: ['cpu', 'gpu', 'ram'],
    env: 'PNAV_COMPONENTS',
    fromText: text => commaList(text).map(s => s.toLowerCase()),
  }),
  gpu_ids: def({
    key: 'gpu_ids',
    schema: GpuIdsSchema,
    description: 'GPU indices a run counts (e.g. 0,1); unset = every GPU allowed by gpu_mode',
    default: null,
    defaultMeaning: 'every GPU allowed by gpu_mode',
    env: 'PNAV_GPU_IDS',
    fromText: text => commaList(text).map(s => (/^\d+$/.test(s) ? Number(s) : s)),
  }),
  gpu_mode: def({
    key: 'gpu_mode',
    schema: GpuModeSchema,
    description:
      "Which GPUs count when gpu_ids is unset: 'all', 'visible' (the kernel's CUDA_VISIBLE_DEVICES) or 'by-process' (only GPUs running the kernel's processes)",
    default: 'visible',
    env: 'PNAV_GPU_MODE',
    fromText: text => text.trim().toLowerCase(),
  }),
  sample_interval_ms: def({
    key: 'sample_interval_ms',
    schema: z.number().int().min(10, 'must be >= 10').max(60_000, 'must be <= 60000'),
    description: "The sidecar's sampling interval for live power, in ms (runs always read counters at open and close)",
    default: 1000,
    env: 'PNAV_SAMPLE_INTERVAL_MS',
    fromText: numberOrText,
  }),
  output_dir: def({
    key: 'output_dir',
    schema: z.string().min(1).max(4096),
    description: "Directory of the emissions_<type>.csv files; relative paths are taken from the notebook's directory",
    default: null,
    defaultMeaning: "the notebook's (kernel's) working directory",
    env: 'PNAV_OUTPUT_DIR',
    fromText: trimmed,
  }),
  type_process: def({
    key: 'type_process',
    schema: TypeProcessSchema,
    description: 'Default type of process of a run: training or inference',
    default: 'training',
    env: 'PNAV_TYPE_PROCESS',
    fromText: text => text.trim().toLowerCase(),
  }),
  endpoint_url: def({
    key: 'endpoint_url',
    schema: z
      .string()
      .max(2000)
      .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
    description: 'PNAV API endpoint for uploads (the token is never stored: give it when uploading)',
    default: null,
    env: 'PNAV_ENDPOINT_URL',
    fromText: trimmed,
  }),
  model_id: def({
    key: 'model_id',
    schema: ModelIdSchema,
    description: 'PNAV model id: 64 lowercase hexadecimal characters',
    default: null,
    env: 'PNAV_MODEL_ID',
    fromText: trimmed,
  }),
};

/** Keys that must never be written to or read from configuration. */
const SECRET_KEY = /(^|_)(token|api_key|apikey|password|secret)$/i;

export const TOKEN_REFUSAL =
  'tokens are never stored in configuration; set PNAV_TOKEN in the environment of the process that uploads';

/** A bad key or value; `message` is `key: detail`. */
export class SettingError extends Error {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${key}: ${detail}`);
  }
}

export function isSettingKey(key: string): key is SettingKey {
  return (SETTING_KEYS as readonly string[]).includes(key);
}

/** Checks a key and returns it typed; throws SettingError naming the key otherwise. */
export function requireSettingKey(key: string): SettingKey {
  if (SECRET_KEY.test(key)) throw new SettingError(key, TOKEN_REFUSAL);
  if (!isSettingKey(key)) throw new SettingError(key, `unknown setting; known settings: ${SETTING_KEYS.join(', ')}`);
  return key;
}

/**
 * Validates a value for a key. Strings go through the key's text parser first, so
 * `pue=1.3` and `pue = 1.3` (TOML) are the same; a TOML string "0,1" for gpu_ids works too.
 */
export function parseSettingValue<K extends SettingKey>(key: K, value: unknown): NonNullable<SettingValues[K]> {
  const d = SETTINGS[key] as SettingDef<K>;
  const candidate = typeof value === 'string' ? d.fromText(value) : value;
  const parsed = d.schema.safeParse(candidate);
  if (!parsed.success)
    throw new SettingError(key, `${readableIssue(parsed.error.issues[0]!, candidate)}; got ${JSON.stringify(value)}`);
  return parsed.data;
}

const EXPECTED: Record<string, string> = { array: 'a comma-separated list', int: 'a whole number', number: 'a number' };

/** zod's message in a user's words: "must be one of DDR3, DDR4, DDR5", naming the bad list entry. */
function readableIssue(issue: z.core.$ZodIssue, candidate: unknown): string {
  let message = issue.message;
  if (issue.code === 'invalid_value') message = `must be one of ${issue.values.map(String).join(', ')}`;
  else if (issue.code === 'invalid_type') message = `must be ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}`;
  const index = issue.path[0];
  if (typeof index === 'number' && Array.isArray(candidate)) message += ` (entry ${JSON.stringify(candidate[index])})`;
  return message;
}

export function defaultValues(): SettingValues {
  const out = {} as Record<SettingKey, unknown>;
  for (const key of SETTING_KEYS) {
    const d = SETTINGS[key].default;
    out[key] = Array.isArray(d) ? [...d] : d;
  }
  return out as unknown as SettingValues;
}
