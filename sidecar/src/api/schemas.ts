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

export const API_PREFIX = '/api/v1';

// ---------------------------------------------------------------- primitives

export const ComponentSchema = z.enum(['cpu', 'gpu', 'ram']);
export type Component = z.infer<typeof ComponentSchema>;
export const COMPONENTS: readonly Component[] = ['cpu', 'gpu', 'ram'];

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

export const TypeProcessSchema = z.enum(['training', 'inference']);
export type TypeProcess = z.infer<typeof TypeProcessSchema>;

export const RunKindSchema = z.enum(['cell', 'function', 'manual']);
export const RunStatusSchema = z.enum(['open', 'ok', 'error', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const TypeRamSchema = z.enum(['DDR3', 'DDR4', 'DDR5']);
/** A country the carbon dataset knows: an unknown code is refused, never silently given the world average. */
export const Iso3Schema = z
  .string()
  .regex(/^[A-Z]{3}$/, { error: 'must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP', abort: true })
  .refine(isKnownCountryIso3, { error: issue => `unknown ISO 3166-1 alpha-3 code '${String(issue.input)}'` });
export const ModelIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters');
export const PueSchema = z.number().min(1, 'must be >= 1').max(3, 'must be <= 3');
export const LabelsSchema = z
  .record(
    z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/, 'label names are [a-zA-Z_][a-zA-Z0-9_]*'),
    z.string().max(200),
  )
  .refine(r => Object.keys(r).length <= 16, 'at most 16 labels');

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
  );

/** Where and how the CSV row of a closed run is written (calculadorapnav's save_to_file). */
export const CsvOutputSchema = z.strictObject({
  /** An existing directory: it is never created (calculadorapnav refuses a missing output_dir too). */
  dir: AbsolutePathSchema,
  file: z.string().min(1).max(255).optional(),
  onCsvWrite: z.enum(['append', 'update']).default('append'),
});

/** calculadorapnav's online submission, queued in the durable outbox. The token is never stored in runs. */
export const SubmitSchema = z.strictObject({
  endpointUrl: z.string().regex(/^https?:\/\//, 'must be an http(s) URL'),
  token: z.string(),
  modelId: ModelIdSchema,
});

export const OpenRunRequestSchema = z.strictObject({
  kind: RunKindSchema.default('manual'),
  kernelId: z.string().max(200).optional(),
  notebookPath: z.string().max(4096).optional(),
  cellId: z.string().max(200).optional(),
  executionCount: z.number().int().min(0).optional(),
  /** The kernel's pid: its process tree's CPU time gives the attributed share. */
  pid: z.number().int().positive().optional(),
  label: z.string().max(500).optional(),
  labels: LabelsSchema.optional(),
  typeProcess: TypeProcessSchema.default('training'),
  nEpoch: z.number().int().min(0).optional(),
  nBatch: z.number().int().min(0).optional(),
  modelId: ModelIdSchema.optional(),
  model: ModelFactsSchema.optional(),
  country: Iso3Schema.optional(),
  region: z.string().max(100).optional(),
  cloudProvider: z.string().max(50).optional(),
  cloudRegion: z.string().max(100).optional(),
  pue: PueSchema.optional(),
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
});
export type CloseRunRequest = z.infer<typeof CloseRunRequestSchema>;

export const PatchRunRequestSchema = z.strictObject({
  label: z.string().max(500).optional(),
  nEpoch: z.number().int().min(0).optional(),
  nBatch: z.number().int().min(0).optional(),
  model: ModelFactsSchema.optional(),
  modelId: ModelIdSchema.optional(),
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
  /** Where the country came from: the run, configuration, PNAV_COUNTRY, a time-zone guess, or the world default. */
  countrySource: z.enum(['run', 'config', 'env', 'timezone-guess', 'world-default', 'cloud-region']),
  region: z.string().nullable(),
  cloudProvider: z.string().nullable(),
  cloudRegion: z.string().nullable(),
  onCloud: z.boolean(),
  intensityGPerKWh: z.number(),
  /** Renewable share of the grid mix, 0..1 (calculadorapnav's `ref`). */
  renewableShare: z.number().nullable(),
  intensityYear: z.number().int().nullable(),
  intensitySource: z.string(),
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
});
export type Epoch = z.infer<typeof EpochSchema>;

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
  /** Share of the machine's energy attributed to the kernel's process tree by CPU time. An attribution, not a measurement. */
  attribution: z.object({ method: z.literal('cpu-time-share'), share: z.number(), energyJ: z.number() }).nullable(),
  epochs: z.array(EpochSchema),
  error: z.string().nullable(),
  client: z.object({ os: z.string().nullable(), pythonVersion: z.string().nullable(), tool: z.string().nullable() }),
  /** Last checkpoint of an open run: an interrupted run keeps its energy up to here. */
  checkpointAt: z.string().nullable(),
  /** Where each run setting came from: `argument`, `env:PNAV_PUE`, `project:/dir/.pnav.toml`, `default`, ... (settings/). */
  settingsSources: z.record(z.string(), z.string()).optional(),
  /** The configured CSV directory used when the close request names none (null: the notebook's directory). */
  outputDir: z.string().nullable().optional(),
});
export type Run = z.infer<typeof RunSchema>;

export const CloseRunResponseSchema = z.object({
  run: RunSchema,
  csv: z
    .object({ path: z.string().nullable(), epochsPath: z.string().nullable(), error: z.string().nullable() })
    .nullable(),
  upload: z.object({ id: z.string(), status: z.string() }).nullable(),
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

/** Every `error.code` the API answers with (storage_unavailable: 507, the data dir cannot be written). */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden_host',
  'forbidden_origin',
  'not_found',
  'payload_too_large',
  'conflict',
  'storage_unavailable',
  'internal',
] as const;

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string().describe(`One of: ${ERROR_CODES.join(', ')}`),
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
