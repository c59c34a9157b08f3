/**
 * Wire types of the sidecar API, mirrored from `sidecar/src/api/schemas.ts`.
 *
 * The sidecar validates with zod; the browser only reads what the sidecar
 * wrote, so plain interfaces are enough here. Keep this file in step with the
 * schemas: only additive changes happen there. Units are in the names.
 */

export type Component = 'cpu' | 'gpu' | 'ram';
export const COMPONENTS: readonly Component[] = ['cpu', 'gpu', 'ram'];

/** How a figure was obtained. `rapl`, `nvml` and `nvidia-smi` read hardware; the others estimate. */
export type Method = 'rapl' | 'nvml' | 'nvidia-smi' | 'tdp-load' | 'ram-model' | 'none';

export type TypeProcess = 'training' | 'inference';
export type RunKind = 'cell' | 'function' | 'manual';
export type RunStatus = 'open' | 'ok' | 'error' | 'interrupted';

export interface IComponentEnergy {
  energyJ: number;
  /** Mean power over the window. */
  powerW: number;
  method: Method;
  measured: boolean;
  /** False when the run excluded this component: shown as excluded, never as zero. */
  included: boolean;
}

export type EnergyBreakdown = Record<Component, IComponentEnergy>;

export interface ILocation {
  countryIso3: string;
  countryName: string;
  countrySource: 'run' | 'config' | 'env' | 'timezone-guess' | 'world-default' | 'cloud-region';
  region: string | null;
  cloudProvider: string | null;
  cloudRegion: string | null;
  onCloud: boolean;
  intensityGPerKWh: number;
  renewableShare: number | null;
  intensityYear: number | null;
  intensitySource: string;
}

export interface IEpoch {
  index: number;
  status: 'open' | 'ok' | 'interrupted';
  startedAt: string;
  endedAt: string | null;
  durationS: number;
  nBatch: number;
  energy: EnergyBreakdown;
  /** Sum of included components, before PUE. */
  energyJ: number;
  /** energyJ x PUE: what calculadorapnav reports as energy. */
  facilityEnergyJ: number;
  emissionsG: number;
}

export interface IRun {
  id: string;
  kind: RunKind;
  status: RunStatus;
  kernelId: string | null;
  notebookPath: string | null;
  cellId: string | null;
  executionCount: number | null;
  pid: number | null;
  label: string | null;
  labels: Record<string, string>;
  typeProcess: TypeProcess;
  nEpoch: number;
  nBatch: number;
  batchesCounted: number;
  modelId: string | null;
  model: {
    framework: string;
    nParameters: number;
    nFeatures: number | number[] | number[][];
    sizeBucket: 'small' | 'medium' | 'large';
    name: string | null;
  };
  location: ILocation;
  pue: number;
  typeRam: 'DDR3' | 'DDR4' | 'DDR5';
  components: Component[];
  gpuIds: number[] | null;
  scope: { kind: string; detail: string };
  startedAt: string;
  endedAt: string | null;
  durationS: number;
  energy: EnergyBreakdown;
  energyJ: number;
  facilityEnergyJ: number;
  emissionsG: number;
  quality: 'measured' | 'estimated' | 'mixed';
  attribution: { method: 'cpu-time-share'; share: number; energyJ: number } | null;
  epochs: IEpoch[];
  error: string | null;
  client: { os: string | null; pythonVersion: string | null; tool: string | null };
  checkpointAt: string | null;
}

export interface ISourceInfo {
  id: string;
  component: Component;
  method: Method;
  measured: boolean;
  available: boolean;
  /** Why it is unavailable, when it is. */
  reason: string | null;
  /** The exact fix, when one exists. */
  fix: string | null;
  devices: { id: string; name: string }[];
  detail: string | null;
}

export interface IStatus {
  version: string;
  pid: number;
  startedAt: string;
  /** The directory holding this sidecar's ledger and outbox. */
  dataDir: string;
  host: string;
  user: string;
  labels: Record<string, string>;
  sampleIntervalMs: number;
  pue: number;
  location: ILocation;
  sources: ISourceInfo[];
  scope: { kind: string; detail: string };
  openRuns: number;
  hardware: {
    cpuModel: string;
    cpuCount: number;
    cpuTdpW: number | null;
    cpuTdpSource: string;
    gpuCount: number;
    gpuModel: string | null;
    ramTotalGB: number;
  };
}

export interface IDoctor {
  sources: ISourceInfo[];
  measuredAvailable: boolean;
}

export interface ISample {
  /** Wall-clock ms since the epoch, stamped by the sidecar. */
  t: number;
  powerW: { cpu: number | null; gpu: number | null; ram: number | null };
  totalPowerW: number;
}

export type RunEvent = 'opened' | 'progress' | 'epoch' | 'closed' | 'updated';

export type StreamMessage =
  | { type: 'hello'; status: IStatus }
  | { type: 'sample'; sample: ISample }
  | { type: 'run'; event: RunEvent; run: IRun };

export interface IErrorResponse {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

// ---------------------------------------------------------------- PNAV outputs (issue 4)

export type ExportFormat = 'csv' | 'json' | 'boamps';

/** Which runs an export, preview or upload covers: explicit ids, or a whole notebook. */
export interface IRunSelection {
  runIds?: string[];
  notebookPath?: string;
}

export interface IExportRequest extends IRunSelection {
  format: ExportFormat;
  typeProcess?: TypeProcess;
}

export interface IUploadRequest extends IRunSelection {
  endpointUrl: string;
  token: string;
  modelId: string;
  typeProcess: TypeProcess;
}

export type UploadStatus = 'queued' | 'sending' | 'sent' | 'retrying' | 'failed';

/** One queued submission as the sidecar shows it (`sidecar/src/outputs/schemas.ts`): never the token. */
export interface IUpload {
  id: string;
  status: UploadStatus;
  endpointUrl: string;
  modelId: string;
  typeProcess: TypeProcess;
  notebookPath: string | null;
  runIds: string[];
  /** Same across retries; the PNAV server can deduplicate on it. */
  idempotencyKey: string;
  attempts: number;
  /** The server's message (truncated) or the network error of the last failed attempt. */
  lastError: string | null;
  lastHttpStatus: number | null;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

/** One calculadorapnav record: the 40 CSV keys in order. */
export type PnavRecord = Record<string, string | number | boolean | null>;
