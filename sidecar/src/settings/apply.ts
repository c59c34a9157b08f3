/**
 * Fills the fields an open-run request left unset from the resolved settings, and says where
 * each run field came from. Pure: the caller resolves (files, env) and passes the result in.
 */
import type { OpenRunRequest } from '../api/schemas.js';
import { defaultValues, type GpuMode, SETTING_KEYS, type SettingKey } from './definitions.js';
import { type ResolvedSettings, type ResolveOptions, resolveSettings } from './resolve.js';

/** The settings that shape a run, recorded with their source in the run. */
export const RUN_SETTING_KEYS = [
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
  'type_process',
  'model_id',
  'output_dir',
] as const satisfies readonly SettingKey[];
export type RunSettingKey = (typeof RUN_SETTING_KEYS)[number];

export interface AppliedOpenRequest extends OpenRunRequest {
  /** Where each run setting came from: `argument`, `env:PNAV_PUE`, `project:/…/.pnav.toml`, `default`, … */
  settingsSources: Record<RunSettingKey, string>;
  /** Directory for the run's CSV when the close request names none (absolute), or null = the notebook's directory. */
  outputDir: string | null;
  gpuMode: GpuMode;
  /** What the run's GPU figure covers ('whole GPU', the MIG note, or why every GPU counts), when GPUs were chosen from the env. */
  gpuScope?: string;
  /**
   * The country split by origin, for the carbon module's labelled resolution: an argument stays in
   * `country`; a file or sidecar flag becomes `configCountry`; a PNAV_COUNTRY becomes `envCountry`.
   */
  configCountry?: string;
  envCountry?: string;
}

export interface ApplyOptions {
  /**
   * Fields the client actually sent (the raw body's keys). Needed because the schema gives
   * `typeProcess` a default: without this set, typeProcess always counts as sent.
   */
  explicit?: ReadonlySet<string>;
  /** The sidecar's own PNAV_COUNTRY: used only when no layer set the country. */
  fallbackEnvCountry?: string;
  /**
   * Maps a CUDA_VISIBLE_DEVICES that names GPU UUIDs or MIG instances to GPU indices and what they cover
   * (the power layer knows the machine's GPUs); null when it cannot.
   */
  mapVisibleGpus?: (text: string) => { ids: number[]; scope: string } | null;
}

/** What the ledger holds to resolve settings for each run: where files live and the sidecar's flags. */
export type SettingsContext = Omit<ResolveOptions, 'cwd' | 'env' | 'args'> & Omit<ApplyOptions, 'explicit'>;

const FIELD_OF: Record<Exclude<RunSettingKey, 'gpu_mode' | 'output_dir'>, keyof OpenRunRequest> = {
  country: 'country',
  region: 'region',
  cloud_provider: 'cloudProvider',
  cloud_region: 'cloudRegion',
  factors: 'factors',
  pue: 'pue',
  type_ram: 'typeRam',
  components: 'components',
  gpu_ids: 'gpuIds',
  type_process: 'typeProcess',
  model_id: 'modelId',
};

export function applySettingsToOpenRequest(
  req: OpenRunRequest,
  resolved: ResolvedSettings,
  opts: ApplyOptions = {},
): AppliedOpenRequest {
  const out = { ...req } as AppliedOpenRequest;
  const fields = out as unknown as Record<string, unknown>;
  const sources = {} as Record<RunSettingKey, string>;
  const sent = (field: keyof OpenRunRequest): boolean =>
    req[field] !== undefined && (field !== 'typeProcess' || !opts.explicit || opts.explicit.has(field));

  for (const [key, field] of Object.entries(FIELD_OF) as [keyof typeof FIELD_OF, keyof OpenRunRequest][]) {
    if (sent(field)) {
      sources[key] = 'argument';
      continue;
    }
    const value = resolved.values[key];
    sources[key] = resolved.sources[key];
    fields[field] = value === null ? undefined : Array.isArray(value) ? [...value] : value;
  }
  sources.gpu_mode = resolved.sources.gpu_mode;
  sources.output_dir = resolved.sources.output_dir;
  out.gpuMode = resolved.values.gpu_mode;
  out.outputDir = resolved.values.output_dir;

  // The country's origin matters to the location label, so only an argument stays in `country`.
  if (sources.country !== 'argument') {
    out.country = undefined;
    const country = resolved.values.country ?? undefined;
    if (sources.country.startsWith('env:')) out.envCountry = country;
    else if (sources.country !== 'default') out.configCountry = country;
    else if (opts.fallbackEnvCountry) {
      out.envCountry = opts.fallbackEnvCountry;
      sources.country = 'sidecar-env:PNAV_COUNTRY';
    }
  }

  // Which GPUs: explicit ids win; else the kernel's CUDA_VISIBLE_DEVICES in 'visible' mode.
  // 'by-process' starts with no GPU and learns them from nvidia-smi while the run lasts (power/gpu/by-process.ts).
  if (out.gpuIds === undefined) {
    if (out.gpuMode === 'visible') {
      const visible = visibleGpuIds(req.env?.CUDA_VISIBLE_DEVICES, opts.mapVisibleGpus);
      if (visible) {
        out.gpuIds = visible.ids;
        out.gpuScope = visible.scope;
        sources.gpu_ids = 'env:CUDA_VISIBLE_DEVICES';
      } else if (req.env?.CUDA_VISIBLE_DEVICES !== undefined) {
        out.gpuScope = `every GPU: CUDA_VISIBLE_DEVICES=${req.env.CUDA_VISIBLE_DEVICES} names UUIDs and the sidecar could not map them (no GPU inventory)`;
      }
    } else if (out.gpuMode === 'by-process') {
      out.gpuIds = [];
      sources.gpu_ids = 'by-process';
    }
  }
  out.settingsSources = sources;
  return out;
}

/** How long a run reuses the settings-file lookup of its cwd (files changed outside the sidecar show within this). */
export const RUN_FILE_LOOKUP_MAX_AGE_MS = 1000;

/** Resolves the settings for this request (its cwd, its client env, its explicit fields) and applies them. */
export function settingsForOpenRun(
  req: OpenRunRequest,
  opts: SettingsContext & ApplyOptions = {},
): { applied: AppliedOpenRequest; resolved: ResolvedSettings } {
  let resolved: ResolvedSettings;
  try {
    resolved = resolveSettings({ fileLookupMaxAgeMs: RUN_FILE_LOOKUP_MAX_AGE_MS, ...opts, cwd: req.cwd, env: req.env });
  } catch (err) {
    // A run must open whatever state the configuration is in: fall back to the built-in defaults.
    resolved = {
      values: defaultValues(),
      sources: Object.fromEntries(SETTING_KEYS.map(k => [k, 'default'])) as Record<SettingKey, string>,
      warnings: [{ source: 'settings', key: '*', message: `settings not applied: ${(err as Error).message}` }],
      files: [],
    };
  }
  return { applied: applySettingsToOpenRequest(req, resolved, opts), resolved };
}

/**
 * The kernel's CUDA_VISIBLE_DEVICES as GPU indices and what they cover. Indices need nothing else;
 * UUIDs (GPU-…) and MIG instances (MIG-…) go to `map`, a MIG instance giving its parent GPU (one
 * energy counter per GPU). Null when UUIDs cannot be mapped.
 */
export function visibleGpuIds(
  text: string | undefined,
  map: ApplyOptions['mapVisibleGpus'],
): { ids: number[]; scope: string } | null {
  const indices = parseCudaVisibleDevices(text);
  if (indices) return { ids: indices, scope: 'whole GPU' };
  return text === undefined || !map ? null : map(text);
}

/**
 * CUDA's device list as GPU indices: '' or '-1' hide every GPU; parsing stops at the first entry
 * that is not an index, as CUDA does. UUID (GPU-…/MIG-…) lists return null: visibleGpuIds maps
 * them with the GPU inventory.
 */
export function parseCudaVisibleDevices(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const entries = text.split(',').map(s => s.trim());
  if (entries.length === 1 && (entries[0] === '' || entries[0] === '-1')) return [];
  if (!/^\d+$/.test(entries[0]!)) return null;
  const ids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) break;
    const id = Number(entry);
    if (ids.includes(id)) break; // CUDA rejects duplicates from there on
    ids.push(id);
  }
  return ids;
}
