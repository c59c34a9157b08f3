/**
 * A BoAmps report (Boavizta AI Measures 1.1.0, the PNAV "datamodel") for one run or an
 * aggregate of runs: run figures map to BoAmps' measures and infrastructure blocks. Fields BoAmps requires and
 * PNAV does not know (taskFamily, dataset type) come from the caller or are marked
 * "unspecified"/"other" for the user to complete. Validated against the vendored schema
 * (sidecar/data/boamps-schema/) in the tests.
 */
import { createHash } from 'node:crypto';
import type { Run } from '../api/schemas.js';
import { methodsSentence } from './csv/methods-file.js';
import { pyFeatures } from './py-format.js';
import { type HardwareFacts, runToRecord } from './record.js';

export const BOAMPS_FORMAT_VERSION = '1.1.0';
const DATA_TYPES = [
  'tabular',
  'audio',
  'boolean',
  'image',
  'video',
  'object',
  'text',
  'token',
  'word',
  'other',
] as const;
export type BoampsDataType = (typeof DATA_TYPES)[number];

export interface BoampsContext {
  /** BoAmps requires it; PNAV has no such field. */
  taskFamily?: string;
  dataType?: BoampsDataType;
  /** Sidecar version, written as the measure's tool version. */
  toolVersion?: string;
  now?: Date;
}

/** "YYYY-MM-DD HH:MM:SS", local time, as BoAmps examples write it. */
function boampsDateTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}

/** A UUID-shaped id derived from the run id: the same run always gets the same reportId. */
function reportIdFor(runId: string): string {
  const h = createHash('sha256').update(`pnav-lab:boamps:${runId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function dropEmpty<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== null && v !== undefined && v !== ''),
  ) as Partial<T>;
}

const QUALITY: Record<Run['quality'], 'high' | 'medium' | 'low'> = {
  measured: 'high',
  mixed: 'medium',
  estimated: 'low',
};

export function runToBoamps(run: Run, hardware: HardwareFacts, context: BoampsContext = {}): Record<string, unknown> {
  const record = runToRecord(run, hardware, { now: context.now });
  const now = context.now ?? new Date();
  const started = new Date(run.startedAt);
  const gpuIncluded = run.energy.gpu.included && hardware.gpuCount > 0;
  const components: Array<Record<string, unknown>> = [
    dropEmpty({ componentType: 'cpu', componentName: hardware.cpuModel, nbComponent: Math.max(1, hardware.cpuCount) }),
  ];
  if (gpuIncluded) {
    components.push(
      dropEmpty({ componentType: 'gpu', componentName: hardware.gpuModel, nbComponent: hardware.gpuCount }),
    );
  }
  components.push({
    componentType: 'ram',
    componentName: run.typeRam,
    nbComponent: 1,
    memorySize: hardware.ramTotalGB,
  });
  const description = [
    `Measured with PNAV Lab (${run.quality}): ${record.n_epoch} epoch(s), ${record.n_batch} batch(es)`,
    `emissions ${record.emissions} kg CO2eq at ${run.location.intensityGPerKWh} gCO2eq/kWh (${run.location.intensitySource})`,
    `PUE ${run.pue}`,
    methodsSentence(run),
    record.model_id ? `PNAV model_id ${record.model_id}` : null,
    run.notebookPath ? `notebook ${run.notebookPath}` : null,
  ]
    .filter(Boolean)
    .join('; ');
  return {
    header: {
      formatVersion: BOAMPS_FORMAT_VERSION,
      formatVersionSpecificationUri: 'https://github.com/Boavizta/BoAmps/tree/main/model',
      reportId: reportIdFor(run.id),
      reportDatetime: boampsDateTime(now),
      reportStatus: run.status === 'ok' ? 'final' : 'draft',
    },
    task: {
      taskStage: run.typeProcess,
      taskFamily: context.taskFamily ?? 'unspecified',
      algorithms: [
        dropEmpty({
          algorithmName: run.model.name,
          framework: run.model.framework !== 'unknown' ? run.model.framework : null,
          // BoAmps counts parameters in billions.
          parametersNumber: run.model.nParameters > 0 ? run.model.nParameters / 1e9 : null,
          epochsNumber: record.n_epoch > 0 ? record.n_epoch : null,
        }),
      ],
      dataset: [
        dropEmpty({
          dataUsage: 'input',
          dataType: context.dataType ?? 'other',
          shape: record.n_features !== 0 ? pyFeatures(record.n_features) : null,
        }),
      ],
      taskDescription: description,
    },
    measures: [
      dropEmpty({
        measurementMethod: 'pnav-lab',
        version: context.toolVersion,
        cpuTrackingMode: run.energy.cpu.included ? run.energy.cpu.method : null,
        gpuTrackingMode: gpuIncluded ? run.energy.gpu.method : null,
        powerConsumption: record.energy_consumed, // kWh, PUE included, as the PNAV CSV
        measurementDuration: record.duration,
        measurementDateTime: boampsDateTime(started),
      }),
    ],
    ...(record.os ? { system: { os: record.os } } : {}),
    ...(record.python_version ? { software: { language: 'python', version: record.python_version } } : {}),
    infrastructure: dropEmpty({
      infraType: run.location.onCloud ? 'publicCloud' : 'onPremise',
      cloudProvider: run.location.cloudProvider,
      components,
    }),
    environment: dropEmpty({
      country: run.location.countryName,
      location: run.location.cloudRegion ?? run.location.region,
      powerSupplierType: 'public',
      powerSourceCarbonIntensity: run.location.intensityGPerKWh,
    }),
    quality: boampsQuality(run),
  };
}

/** A coarse window or a source that failed inside it lowers the quality one step each. */
function boampsQuality(run: Run): 'high' | 'medium' | 'low' {
  const steps = ['high', 'medium', 'low'] as const;
  const base = steps.indexOf(QUALITY[run.quality]);
  const lowered = base + (run.windowQuality === 'coarse' ? 1 : 0) + (run.degraded ? 1 : 0);
  return steps[Math.min(lowered, steps.length - 1)]!;
}
