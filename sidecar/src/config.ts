/**
 * The sidecar's configuration, parsed once at startup from CLI options and the
 * environment into one typed, zod-validated object. Country and PUE defaults
 * flow from here into the ledger, and nowhere else.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { Iso3Schema, LabelsSchema, PueSchema } from './api/schemas.js';
import { SETTINGS, type SettingKey } from './settings/definitions.js';
import { settingsPaths } from './settings/files.js';
import { resolveSettings } from './settings/resolve.js';

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1'];

export const SidecarConfigSchema = z.object({
  host: z
    .string()
    .refine(
      h => LOOPBACK_HOSTS.includes(h) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h),
      'must be a loopback address (127.0.0.1, localhost or ::1): the sidecar never listens on a network',
    )
    .default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(0),
  dataDir: z.string().min(1),
  runtimeDir: z.string().min(1),
  sampleIntervalMs: z.coerce.number().int().min(10).max(60_000).default(1000),
  /** How often open runs are checkpointed, so a crash keeps their energy up to here (one small write). */
  checkpointIntervalMs: z.coerce.number().int().min(100).max(600_000).default(1000),
  /** Open runs kept at most, in total and per kernel: past them POST /runs answers 429. */
  maxOpenRuns: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  maxOpenRunsPerKernel: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  /** An open run older than this is closed as interrupted (0: never). */
  maxRunAgeS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30 * 24 * 3600),
  sysfsRoot: z.string().min(1).default('/sys'),
  procRoot: z.string().min(1).default('/proc'),
  /** Configuration-level country (ISO alpha-3); runs may override it. */
  country: Iso3Schema.optional(),
  pue: PueSchema.default(1),
  gpuIds: z.array(z.number().int().min(0)).optional(),
  cpuTdpW: z.coerce.number().positive().max(2000).optional(),
  labels: LabelsSchema.default({}),
  metricsPublic: z.boolean().default(false),
  nvidiaSmiPath: z.string().min(1).optional(),
});
export type SidecarConfig = z.infer<typeof SidecarConfigSchema>;

export type Env = Record<string, string | undefined>;

/** Jupyter's runtime dir: JUPYTER_RUNTIME_DIR, else <jupyter data dir>/runtime. */
export function defaultRuntimeDir(env: Env = process.env): string {
  if (env.PNAV_RUNTIME_DIR) return env.PNAV_RUNTIME_DIR;
  if (env.JUPYTER_RUNTIME_DIR) return env.JUPYTER_RUNTIME_DIR;
  const jupyterData = env.JUPYTER_DATA_DIR ?? path.join(xdgDataHome(env), 'jupyter');
  return path.join(jupyterData, 'runtime');
}

/** PNAV_DATA_DIR, else $XDG_DATA_HOME/pnav-lab, else ~/.local/share/pnav-lab. */
export function defaultDataDir(env: Env = process.env): string {
  if (env.PNAV_DATA_DIR) return env.PNAV_DATA_DIR;
  return path.join(xdgDataHome(env), 'pnav-lab');
}

function xdgDataHome(env: Env): string {
  return env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
}

/** Raw option values as commander hands them over (strings, arrays). */
export interface RawSidecarOptions {
  host?: string;
  port?: string | number;
  dataDir?: string;
  runtimeDir?: string;
  sampleInterval?: string | number;
  checkpointInterval?: string | number;
  maxOpenRuns?: string | number;
  maxOpenRunsPerKernel?: string | number;
  maxRunAge?: string | number;
  sysfsRoot?: string;
  procRoot?: string;
  country?: string;
  pue?: string | number;
  gpuIds?: string;
  cpuTdp?: string | number;
  label?: string[];
  metricsPublic?: boolean;
  nvidiaSmi?: string;
}

export class ConfigError extends Error {}

/** Builds the config from CLI options over the environment; throws ConfigError naming the bad option. */
export function parseConfig(raw: RawSidecarOptions, env: Env = process.env): SidecarConfig {
  const labels: Record<string, string> = {};
  for (const kv of raw.label ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--label: expected k=v, got '${kv}'`);
    labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const gpuIds = raw.gpuIds
    ?.split(',')
    .map(s => s.trim())
    .filter(s => s !== '')
    .map(Number);
  const input = {
    host: raw.host,
    port: raw.port,
    dataDir: raw.dataDir ?? defaultDataDir(env),
    runtimeDir: raw.runtimeDir ?? defaultRuntimeDir(env),
    sampleIntervalMs: raw.sampleInterval ?? configuredSampleIntervalMs(env),
    checkpointIntervalMs: raw.checkpointInterval,
    maxOpenRuns: raw.maxOpenRuns,
    maxOpenRunsPerKernel: raw.maxOpenRunsPerKernel,
    maxRunAgeS: raw.maxRunAge,
    sysfsRoot: raw.sysfsRoot,
    procRoot: raw.procRoot,
    country: raw.country?.toUpperCase(),
    pue: raw.pue === undefined ? undefined : Number(raw.pue),
    gpuIds,
    cpuTdpW: raw.cpuTdp,
    labels,
    metricsPublic: raw.metricsPublic ?? false,
    nvidiaSmiPath: raw.nvidiaSmi,
  };
  const parsed = SidecarConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${OPTION_NAMES[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * `sample_interval_ms` from the settings layers the sidecar can see without a notebook: PNAV_SAMPLE_INTERVAL_MS,
 * the user file, and calculadorapnav's `measure_power_secs` in ~/.calculadorapnav.config (settings/README.md).
 * Files are found from `env` (HOME, XDG_CONFIG_HOME). A bad value there is skipped: the default applies.
 */
function configuredSampleIntervalMs(env: Env): number | undefined {
  try {
    return resolveSettings({ env, paths: settingsPaths(env) }).values.sample_interval_ms;
  } catch {
    return undefined; // configuration must never stop the sidecar from starting
  }
}

const OPTION_NAMES: Record<string, string> = {
  host: '--host',
  port: '--port',
  dataDir: '--data-dir',
  runtimeDir: '--runtime-dir',
  sampleIntervalMs: '--sample-interval',
  checkpointIntervalMs: '--checkpoint-interval',
  maxOpenRuns: '--max-open-runs',
  maxOpenRunsPerKernel: '--max-open-runs-per-kernel',
  maxRunAgeS: '--max-run-age',
  sysfsRoot: '--sysfs-root',
  procRoot: '--proc-root',
  country: '--country',
  pue: '--pue',
  gpuIds: '--gpu-ids',
  cpuTdpW: '--cpu-tdp',
  labels: '--label',
  nvidiaSmiPath: '--nvidia-smi',
};

/**
 * The settings that `pnav sidecar`'s own flags give (layer `sidecar:--flag`, just above the
 * built-in defaults). Values equal to the built-in default are left out: the startup config
 * cannot tell a flag given as `--pue 1` from no flag, and either way the default applies.
 */
export function settingsFromSidecarConfig(
  config: Pick<SidecarConfig, 'country' | 'pue' | 'gpuIds' | 'sampleIntervalMs'>,
): Partial<Record<SettingKey, unknown>> {
  const out: Partial<Record<SettingKey, unknown>> = {};
  if (config.country) out.country = config.country;
  if (config.pue !== SETTINGS.pue.default) out.pue = config.pue;
  if (config.gpuIds && config.gpuIds.length > 0) out.gpu_ids = config.gpuIds;
  if (config.sampleIntervalMs !== SETTINGS.sample_interval_ms.default) out.sample_interval_ms = config.sampleIntervalMs;
  return out;
}
