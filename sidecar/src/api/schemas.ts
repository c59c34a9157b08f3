/**
 * The wire shape of the sidecar's local API, declared once.
 *
 * Every request body and query is validated against these zod schemas at the
 * edge (see `validate.ts`), the OpenAPI description is generated from them, and
 * clients (the Python shim, the lab extension, `pnav measure`) mirror them.
 * Units are in the names: `energyJ`, `powerW`, `durationS`, `emissionsG`.
 */
import { z } from 'zod';
import { isKnownCountryIso3 } from '../carbon/countries.js';
import {
  API_PREFIX,
  COMPONENTS as COMPONENT_NAMES,
  COUNTRY_ISO3_PATTERN,
  CSV_WRITE_MODES,
  ENDPOINT_URL_PATTERN,
  ERROR_CODES,
  LABEL_NAME_PATTERN,
  LABEL_TEXT_MAX_LENGTH,
  LABEL_VALUE_MAX_LENGTH,
  LABELS_MAX_COUNT,
  MODEL_ID_PATTERN,
  PUE_MAX,
  PUE_MIN,
  TYPE_PROCESSES,
  TYPE_RAMS,
} from './contract.js';

export { API_PREFIX, ERROR_CODES };

// ---------------------------------------------------------------- primitives

export const ComponentSchema = z.enum(COMPONENT_NAMES);
export type Component = z.infer<typeof ComponentSchema>;
export const COMPONENTS: readonly Component[] = COMPONENT_NAMES;

/** How a figure was obtained. `measured` methods read hardware counters. */
export const MethodSchema = z.enum([
  'rapl', // powercap energy_uj counters
  'nvml', // NVML total-energy counter
  'nvidia-smi', // integrated power.draw stream from one long-lived nvidia-smi
  'tdp-load', // CPU TDP x load curve (estimate)
  'ram-model', // RAM watts per GB / per DIMM (estimate)
  'none', // component not present on this machine (e.g. no GPU)
]);
export type Method = z.infer<typeof MethodSchema>;

export const TypeProcessSchema = z.enum(TYPE_PROCESSES);
export type TypeProcess = z.infer<typeof TypeProcessSchema>;

export const RunKindSchema = z.enum(['cell', 'function', 'manual']);
export const RunStatusSchema = z.enum(['open', 'ok', 'error', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const TypeRamSchema = z.enum(TYPE_RAMS);
export const FactorsSchema = z.enum(['pnav', 'latest']);
/** A country the carbon dataset knows: an unknown code is refused, never silently given the world average. */
export const Iso3Schema = z
  .string()
  .regex(new RegExp(COUNTRY_ISO3_PATTERN), {
    error: 'must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP',
    abort: true,
  })
  .refine(isKnownCountryIso3, { error: issue => `unknown ISO 3166-1 alpha-3 code '${String(issue.input)}'` });
/**
 * A run's own country: any well-formed code. One without factors resolves to Spain with a labelled
 * source, as calculadorapnav does (it falls back to ESP and logs), rather than refusing the run.
 */
export const RunCountrySchema = z
  .string()
  .regex(new RegExp(COUNTRY_ISO3_PATTERN), { error: 'must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP' });
/** calculadorapnav accepts any PUE; zero or less would erase or negate the energy. */
export const RunPueSchema = z.number().positive('must be > 0').max(100, 'must be <= 100');
/** A run's model id: free text, as calculadorapnav offline writes it; a submission still needs the 64-hex id. */
export const RunModelIdSchema = z.string().min(1).max(200);
export const ModelIdSchema = z
  .string()
  .regex(new RegExp(MODEL_ID_PATTERN), 'must be 64 lowercase hexadecimal characters');
export const PueSchema = z.number().min(PUE_MIN, `must be >= ${PUE_MIN}`).max(PUE_MAX, `must be <= ${PUE_MAX}`);
export const LabelsSchema = z
  .record(
    z.string().regex(new RegExp(LABEL_NAME_PATTERN), 'label names are [a-zA-Z_][a-zA-Z0-9_]*'),
    z.string().max(LABEL_VALUE_MAX_LENGTH),
  )
  .refine(r => Object.keys(r).length <= LABELS_MAX_COUNT, `at most ${LABELS_MAX_COUNT} labels`);

/** calculadorapnav's model facts. `nFeatures` is a tuple (list) for Keras models. */
export const ModelFactsSchema = z.strictObject({
  framework: z.string().max(64).default('unknown'),
  nParameters: z.number().int().min(0).default(0),
  nFeatures: z
    .union([z.number().int().min(0), z.array(z.number().int()), z.array(z.array(z.number().int()))])
    .default(0),
  name: z.string().max(200).optional(),
});
export type ModelFacts = z.infer<typeof ModelFactsSchema>;

// ---------------------------------------------------------------- requests

// Request bodies are strict objects: an unknown or misspelt key is a 400 naming it (`bogusKey: unknown field`),
// never silently dropped. Queries stay lenient: Jupyter's proxy forwards its own parameters (`token`, ...).

/**
 * A path the sidecar uses as is: absolute (POSIX, or a Windows drive or UNC path). A relative one
 * would resolve against the sidecar's working directory, not the notebook's: clients resolve it.
 */
export const AbsolutePathSchema = z
  .string()
  .min(1)
  .max(4096)
  .regex(
    /^(\/|[A-Za-z]:[\\/]|\\\\)/,
    "must be an absolute path (a relative one would resolve against the sidecar's working directory, not the notebook's)",
  )
  .refine(p => !p.includes('\0'), 'must not contain a NUL character');

/** Where and how the CSV row of a closed run is written (calculadorapnav's save_to_file). */
export const CsvOutputSchema = z.strictObject({
  /** An existing directory: it is never created (calculadorapnav refuses a missing output_dir too). */
  dir: AbsolutePathSchema,
  file: z.string().min(1).max(255).optional(),
  onCsvWrite: z.enum(CSV_WRITE_MODES).default('append'),
  /**
   * `dir` is the kernel's working directory, given as a fallback: the run's configured output_dir
   * (settings, resolved at open), taken relative to `dir`, wins. Lets a client close without having
   * read the open's answer.
   */
  dirIsFallback: z.boolean().optional(),
});

/** calculadorapnav's online submission, queued in the durable outbox. The token is never stored in runs. */
export const SubmitSchema = z.strictObject({
  endpointUrl: z.string().regex(new RegExp(ENDPOINT_URL_PATTERN), 'must be an http(s) URL'),
  token: z.string(),
  modelId: ModelIdSchema,
  /** Send the token over plain http:// to a host that is not loopback (checked when the upload is queued). */
  allowInsecureEndpoint: z.boolean().optional(),
});

export const OpenRunRequestSchema = z.strictObject({
  /**
   * A run id chosen by the client (a UUID), so it can send the open and go on without waiting for the
   * answer; 409 when a run with this id exists. Without it the sidecar picks one.
   */
  id: z.uuid().optional(),
  kind: RunKindSchema.default('manual'),
  kernelId: z.string().max(200).optional(),
  notebookPath: z.string().max(4096).optional(),
  cellId: z.string().max(200).optional(),
  executionCount: z.number().int().min(0).optional(),
  /** The kernel's pid: its process tree's CPU time gives the attributed share. */
  pid: z.number().int().positive().optional(),
  label: z.string().max(LABEL_TEXT_MAX_LENGTH).optional(),
  labels: LabelsSchema.optional(),
  typeProcess: TypeProcessSchema.default('training'),
  nEpoch: z.number().int().min(0).optional(),
  nBatch: z.number().int().min(0).optional(),
  modelId: RunModelIdSchema.optional(),
  model: ModelFactsSchema.optional(),
  country: RunCountrySchema.optional(),
  /** Emission factors: calculadorapnav's (`pnav`, default) or the project's newest (`latest`). */
  factors: FactorsSchema.optional(),
  region: z.string().max(100).optional(),
  cloudProvider: z.string().max(50).optional(),
  cloudRegion: z.string().max(100).optional(),
  pue: RunPueSchema.optional(),
  /** The caller gave an int PUE: the record writes `1` rather than `1.0`, as calculadorapnav does. */
  pueIsInt: z.boolean().optional(),
  typeRam: TypeRamSchema.optional(),
  gpuIds: z.array(z.number().int().min(0)).max(64).optional(),
  components: z.array(ComponentSchema).min(1).optional(),
  /** The kernel's working directory: the project config file is searched from here upward. */
  cwd: AbsolutePathSchema.optional(),
  /** The client's PNAV_* environment variables (configuration layer 'env'), and its CUDA_VISIBLE_DEVICES (GPU scope). */
  env: z
    .record(
      z.string().regex(/^(PNAV_[A-Z0-9_]+|CUDA_VISIBLE_DEVICES)$/, 'only PNAV_* variables and CUDA_VISIBLE_DEVICES'),
      z.string().max(1000),
    )
    .optional(),
  /** Facts only the client knows, copied into the CSV (os, python_version). */
  client: z
    .strictObject({
      os: z.string().max(300).optional(),
      pythonVersion: z.string().max(50).optional(),
      tool: z.string().max(100).optional(),
      /** The client's UTC offset in minutes (east positive): the record's timestamp is the caller's local time. */
      utcOffsetMin: z.number().int().min(-1440).max(1440).optional(),
    })
    .optional(),
});
export type OpenRunRequest = z.infer<typeof OpenRunRequestSchema>;

export const CloseRunRequestSchema = z.strictObject({
  status: z.enum(['ok', 'error', 'interrupted']).default('ok'),
  error: z.string().max(2000).optional(),
  nEpoch: z.number().int().min(0).optional(),
  nBatch: z.number().int().min(0).optional(),
  model: ModelFactsSchema.optional(),
  output: CsvOutputSchema.optional(),
  submit: SubmitSchema.optional(),
  /**
   * Write the CSV row and submit even when the run failed (`error`) or was interrupted. Off by default, as
   * calculadorapnav records nothing for a failed run: the 40 PNAV columns carry no status.
   */
  recordFailed: z.boolean().optional(),
});
export type CloseRunRequest = z.infer<typeof CloseRunRequestSchema>;

export const PatchRunRequestSchema = z.strictObject({
  label: z.string().max(LABEL_TEXT_MAX_LENGTH).optional(),
  nEpoch: z.number().int().min(0).optional(),
  nBatch: z.number().int().min(0).optional(),
  model: ModelFactsSchema.optional(),
  modelId: RunModelIdSchema.optional(),
});

export const OpenEpochRequestSchema = z.strictObject({
  index: z.number().int().min(0).optional(),
});
export const CloseEpochRequestSchema = z.strictObject({
  nBatch: z.number().int().min(0).optional(),
});
export const CountBatchesRequestSchema = z.strictObject({
  n: z.number().int().min(1).max(1_000_000).default(1),
});

export const ListRunsQuerySchema = z.object({
  notebookPath: z.string().max(4096).optional(),
  kernelId: z.string().max(200).optional(),
  status: RunStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export const SamplesQuerySchema = z.object({
  sinceMs: z.coerce.number().min(0).optional(),
});

// ---------------------------------------------------------------- responses

export const ComponentEnergySchema = z.object({
  energyJ: z.number(),
  /** Mean power over the window. */
  powerW: z.number(),
  method: MethodSchema,
  measured: z.boolean(),
  /** False when the run excluded this component: shown as excluded, never as zero. */
  included: z.boolean(),
  /** What the figure covers: 'machine', 'GPU 3', 'whole GPU (MIG slice not separable)', a memory limit, ... */
  scope: z.string().optional(),
  /** How the figure was obtained, with its inputs (counter, model and the figures it used). */
  basis: z.string().optional(),
  /**
   * 'coarse': the window spans fewer than a few updates of the source's counter (NVML ~100 ms, RAPL ~1 ms),
   * so the figure is right on average but not for this window; 'unavailable': the source gave no value in the
   * window (e.g. nvidia-smi `[N/A]` power), the energy is not a measured zero. Absent on runs stored before.
   */
  quality: z.enum(['fine', 'coarse', 'unavailable']).optional(),
  /** Why the source stopped answering inside the window (its last value was kept), else null. */
  degraded: z.string().nullable().optional(),
});
export type ComponentEnergy = z.infer<typeof ComponentEnergySchema>;

export const EnergyBreakdownSchema = z.object({
  cpu: ComponentEnergySchema,
  gpu: ComponentEnergySchema,
  ram: ComponentEnergySchema,
});
export type EnergyBreakdown = z.infer<typeof EnergyBreakdownSchema>;

export const LocationSchema = z.object({
  countryIso3: z.string(),
  countryName: z.string(),
  /**
   * Where the country came from: the run, configuration, PNAV_COUNTRY, a time-zone guess, a cloud region, or
   * `default` (Spain, calculadorapnav's fallback). `world-default` only appears in runs stored by older versions.
   */
  countrySource: z.enum(['run', 'config', 'env', 'timezone-guess', 'default', 'cloud-region', 'world-default']),
  region: z.string().nullable(),
  cloudProvider: z.string().nullable(),
  cloudRegion: z.string().nullable(),
  onCloud: z.boolean(),
  intensityGPerKWh: z.number(),
  /** Renewable share of the grid mix, 0..1 (calculadorapnav's `ref`). */
  renewableShare: z.number().nullable(),
  intensityYear: z.number().int().nullable(),
  intensitySource: z.string(),
  /** The emission factors used: calculadorapnav's (`pnav`) or the project's newest (`latest`). Absent in older runs. */
  factors: FactorsSchema.optional(),
});
export type Location = z.infer<typeof LocationSchema>;

export const EpochSchema = z.object({
  index: z.number().int(),
  status: z.enum(['open', 'ok', 'interrupted']),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  durationS: z.number(),
  nBatch: z.number().int(),
  energy: EnergyBreakdownSchema,
  /** Sum of included components, before PUE. */
  energyJ: z.number(),
  /** energyJ x PUE: what calculadorapnav reports as energy. */
  facilityEnergyJ: z.number(),
  emissionsG: z.number(),
  /** 'coarse' when any included component is coarse (see ComponentEnergy.quality). */
  windowQuality: z.enum(['fine', 'coarse']).optional(),
});
export type Epoch = z.infer<typeof EpochSchema>;

/** One component's attributed share, with the basis it was computed on. */
export const AttributedShareSchema = z.object({
  basis: z.enum(['cpu-time', 'gpu-memory', 'resident-memory', 'unavailable', 'excluded']),
  /** Attributed energy / the component's window energy, 0..1. */
  share: z.number(),
  energyJ: z.number(),
  /** The inputs: ticks, MiB per GPU, resident bytes, or why the basis is unavailable. */
  detail: z.string(),
});
export type AttributedShare = z.infer<typeof AttributedShareSchema>;

export const AttributionSchema = z.object({
  method: z.enum(['cpu-time-share', 'per-component']),
  /** Attributed energy / the window's energy (before PUE). */
  share: z.number(),
  /** Attributed energy before PUE. */
  energyJ: z.number(),
  /** Attributed energy after PUE: the kernel's figure next to the machine's facilityEnergyJ. */
  facilityEnergyJ: z.number().optional(),
  components: z
    .object({ cpu: AttributedShareSchema, gpu: AttributedShareSchema, ram: AttributedShareSchema })
    .optional(),
});
export type Attribution = z.infer<typeof AttributionSchema>;

export const RunSchema = z.object({
  id: z.string(),
  kind: RunKindSchema,
  status: RunStatusSchema,
  kernelId: z.string().nullable(),
  notebookPath: z.string().nullable(),
  cellId: z.string().nullable(),
  executionCount: z.number().int().nullable(),
  pid: z.number().int().nullable(),
  label: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  typeProcess: TypeProcessSchema,
  nEpoch: z.number().int(),
  nBatch: z.number().int(),
  /** Batches counted by pnav_lab.batch() / callbacks. */
  batchesCounted: z.number().int(),
  modelId: z.string().nullable(),
  model: z.object({
    framework: z.string(),
    nParameters: z.number().int(),
    nFeatures: z.union([z.number(), z.array(z.number()), z.array(z.array(z.number()))]),
    sizeBucket: z.enum(['small', 'medium', 'large']),
    name: z.string().nullable(),
  }),
  location: LocationSchema,
  pue: z.number(),
  /** The caller gave an int PUE (written `1`, not `1.0`). */
  pueIsInt: z.boolean().optional(),
  typeRam: TypeRamSchema,
  components: z.array(ComponentSchema),
  gpuIds: z.array(z.number().int()).nullable(),
  /** What the figures cover: machine, cgroup or SLURM allocation (see the scope issue). */
  scope: z.object({ kind: z.string(), detail: z.string() }),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  durationS: z.number(),
  energy: EnergyBreakdownSchema,
  energyJ: z.number(),
  facilityEnergyJ: z.number(),
  emissionsG: z.number(),
  /** 'measured' when every included component was read from a counter. */
  quality: z.enum(['measured', 'estimated', 'mixed']),
  /** 'coarse' when any included component's window spans fewer than a few counter updates. */
  windowQuality: z.enum(['fine', 'coarse']).optional(),
  /**
   * What the headline figures (energyJ, facilityEnergyJ, emissionsG) cover: 'machine' — every CPU package,
   * the run's GPUs and the RAM of the machine (or of its cgroup/SLURM scope for estimates), not the kernel
   * alone; the kernel's own share is `attribution`.
   */
  energyScope: z.literal('machine').optional(),
  /** Sources that failed inside the window, with the reason ('gpu: ...; cpu: ...'), else null. */
  degraded: z.string().nullable().optional(),
  /**
   * The kernel's share of the machine's energy: CPU by the process tree's CPU time, GPU by its processes'
   * GPU use on each GPU, RAM by resident memory ('per-component'; runs stored before used one CPU-time
   * share for everything). An attribution, not a measurement.
   */
  attribution: AttributionSchema.nullable(),
  epochs: z.array(EpochSchema),
  error: z.string().nullable(),
  client: z.object({
    os: z.string().nullable(),
    pythonVersion: z.string().nullable(),
    tool: z.string().nullable(),
    /** The client's UTC offset in minutes when it opened the run; null: the sidecar's local time is used. */
    utcOffsetMin: z.number().int().nullable().optional(),
  }),
  /** Last checkpoint of an open run: an interrupted run keeps its energy up to here. */
  checkpointAt: z.string().nullable(),
  /** Where each run setting came from: `argument`, `env:PNAV_PUE`, `project:/dir/.pnav.toml`, `default`, ... (settings/). */
  settingsSources: z.record(z.string(), z.string()).optional(),
  /** The configured CSV directory used when the close request names none (null: the notebook's directory). */
  outputDir: z.string().nullable().optional(),
  /**
   * The run continued across sidecar restarts (its kernel kept running): how many, and the seconds
   * between each last checkpoint and the restart, counted in durationS but not measured.
   */
  sidecarRestarts: z.object({ count: z.number().int(), unmeasuredS: z.number() }).optional(),
  /**
   * The CSV row this run owes, recorded with its close and cleared once the row is on disk (fdatasync).
   * A sidecar that starts with it set writes the row again (`update`: replaced where it already is).
   */
  csvPending: z
    .object({ dir: z.string(), file: z.string().optional(), onCsvWrite: z.enum(['append', 'update']) })
    .optional(),
});
export type Run = z.infer<typeof RunSchema>;

export const CloseRunResponseSchema = z.object({
  run: RunSchema,
  csv: z
    .object({
      path: z.string().nullable(),
      epochsPath: z.string().nullable(),
      /** `<name>_methods.csv`: method, measured/estimated, quality, scope and basis of every figure. */
      methodsPath: z.string().nullable().optional(),
      error: z.string().nullable(),
    })
    .nullable(),
  upload: z.object({ id: z.string(), status: z.string() }).nullable(),
  /**
   * Why no CSV row was written and nothing submitted although asked: the run failed or was interrupted and
   * `recordFailed` was not set. Null otherwise. Optional: sidecars before it did not send it.
   */
  notRecorded: z.string().nullable().optional(),
  /**
   * Why the submission asked for (`submit`) could not be queued (a bad endpoint URL, token or model id,
   * naming the field; never the token), else null. Optional: sidecars before it did not send it.
   */
  uploadError: z.string().nullable().optional(),
});
export type CloseRunResponse = z.infer<typeof CloseRunResponseSchema>;

export const SourceInfoSchema = z.object({
  id: z.string(),
  component: ComponentSchema,
  method: MethodSchema,
  measured: z.boolean(),
  available: z.boolean(),
  /** Why it is unavailable, when it is. */
  reason: z.string().nullable(),
  /** The exact fix, when one exists (udev rule, --sysfs-root, ...). */
  fix: z.string().nullable(),
  devices: z.array(z.object({ id: z.string(), name: z.string() })),
  detail: z.string().nullable(),
});
export type SourceInfo = z.infer<typeof SourceInfoSchema>;

export const StatusSchema = z.object({
  version: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  /** The directory holding this sidecar's ledger and outbox. */
  dataDir: z.string(),
  host: z.string(),
  user: z.string(),
  labels: z.record(z.string(), z.string()),
  sampleIntervalMs: z.number(),
  pue: z.number(),
  location: LocationSchema,
  /** One entry per component in use (the chosen source), plus unavailable candidates. */
  sources: z.array(SourceInfoSchema),
  scope: z.object({ kind: z.string(), detail: z.string() }),
  openRuns: z.number().int(),
  /** The data directory, and stored data found damaged at start-up: skipped, moved aside, named here. */
  storage: z
    .object({
      dataDir: z.string(),
      warnings: z.array(z.object({ file: z.string(), message: z.string(), movedTo: z.string().nullable() })),
    })
    .optional(),
  hardware: z.object({
    cpuModel: z.string(),
    cpuCount: z.number().int(),
    cpuTdpW: z.number().nullable(),
    cpuTdpSource: z.string(),
    gpuCount: z.number().int(),
    gpuModel: z.string().nullable(),
    ramTotalGB: z.number(),
  }),
});
export type Status = z.infer<typeof StatusSchema>;

export const SampleSchema = z.object({
  /** Wall-clock ms since the epoch. */
  t: z.number(),
  powerW: z.object({ cpu: z.number().nullable(), gpu: z.number().nullable(), ram: z.number().nullable() }),
  totalPowerW: z.number(),
});
export type Sample = z.infer<typeof SampleSchema>;

/** Messages on the WebSocket stream `${API_PREFIX}/stream`. */
export const StreamMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), status: StatusSchema }),
  z.object({ type: z.literal('sample'), sample: SampleSchema }),
  z.object({
    type: z.literal('run'),
    event: z.enum(['opened', 'progress', 'epoch', 'closed', 'updated']),
    run: RunSchema,
  }),
]);
export type StreamMessage = z.infer<typeof StreamMessageSchema>;

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

// ---------------------------------------------------------------- configuration (settings/)

export const ConfigScopeSchema = z.enum(['user', 'project']);

export const ConfigQuerySchema = z.object({
  /** The notebook's directory: project files are searched from here upward. */
  cwd: AbsolutePathSchema.optional(),
  /** The client's PNAV_* environment as a JSON object, so `%pnav config` shows what a run would use. */
  env: z.string().max(20_000).optional(),
});

export const ConfigSettingSchema = z.object({
  key: z.string(),
  value: z.unknown(),
  /** `default`, `sidecar:--pue`, `user:/path`, `calculadorapnav:/path`, `codecarbon:/path`, `project:/path/.pnav.toml`, `env:PNAV_PUE`, `argument`. */
  source: z.string(),
  description: z.string(),
});

export const ConfigResponseSchema = z.object({
  settings: z.array(ConfigSettingSchema),
  /** Values in files or variables that were skipped, each naming its source and key. */
  warnings: z.array(z.object({ source: z.string(), key: z.string(), message: z.string() })),
});

export const PutConfigRequestSchema = z.strictObject(
  {
    key: z.string().min(1).max(100),
    /** A typed value or its text form ("1.3", "cpu,gpu"); null removes the key from the file. Required. */
    value: z.unknown().optional(),
    scope: ConfigScopeSchema.default('user'),
    cwd: AbsolutePathSchema.optional(),
  },
  // The config router reports issues itself (not through validate.ts): name the unknown keys here.
  { error: issue => (issue.code === 'unrecognized_keys' ? `unknown field: ${issue.keys.join(', ')}` : undefined) },
);

export const PutConfigResponseSchema = z.object({
  /** The effective setting after the write (an env var or argument may still override it). */
  setting: ConfigSettingSchema,
  written: z.object({ scope: ConfigScopeSchema, path: z.string() }),
});
