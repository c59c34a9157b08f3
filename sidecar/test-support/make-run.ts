/**
 * Test data: Run objects as the ledger returns them, with consistent figures
 * (facility = IT energy x PUE; emissions = facility kWh x intensity).
 */
import type { ComponentEnergy, Epoch, Run, Status } from '../src/api/schemas.js';

export const HARDWARE: Status['hardware'] = {
  cpuModel: 'Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz',
  cpuCount: 8,
  cpuTdpW: 270,
  cpuTdpSource: 'table',
  gpuCount: 0,
  gpuModel: null,
  ramTotalGB: 31.2,
};

const INTENSITY_G_PER_KWH = 174.05;

function component(energyJ: number, durationS: number, included = true): ComponentEnergy {
  return { energyJ, powerW: durationS > 0 ? energyJ / durationS : 0, method: 'rapl', measured: true, included };
}

export interface RunSpec {
  id?: string;
  typeProcess?: Run['typeProcess'];
  durationS?: number;
  cpuJ?: number;
  gpuJ?: number;
  ramJ?: number;
  gpuIncluded?: boolean;
  pue?: number;
  nEpoch?: number;
  nBatch?: number;
  batchesCounted?: number;
  nParameters?: number;
  nFeatures?: Run['model']['nFeatures'];
  modelName?: string | null;
  modelId?: string | null;
  notebookPath?: string | null;
  endedAt?: string;
  /** Measured epochs: [durationS, cpuJ] each. */
  epochs?: Array<[number, number]>;
  renewableShare?: number | null;
  status?: Run['status'];
}

function facilityEmissions(energyJ: number, pue: number): { facilityEnergyJ: number; emissionsG: number } {
  const facilityEnergyJ = energyJ * pue;
  return { facilityEnergyJ, emissionsG: (facilityEnergyJ / 3_600_000) * INTENSITY_G_PER_KWH };
}

export function makeRun(spec: RunSpec = {}): Run {
  const durationS = spec.durationS ?? 120;
  const pue = spec.pue ?? 1;
  const cpuJ = spec.cpuJ ?? 3600;
  const gpuJ = spec.gpuJ ?? 0;
  const ramJ = spec.ramJ ?? 360;
  const gpuIncluded = spec.gpuIncluded ?? false;
  const energyJ = cpuJ + ramJ + (gpuIncluded ? gpuJ : 0);
  const endedAt = spec.endedAt ?? '2026-03-02T10:15:30.250Z';
  const startedAt = new Date(Date.parse(endedAt) - durationS * 1000).toISOString();
  let cursor = Date.parse(startedAt);
  const epochs: Epoch[] = (spec.epochs ?? []).map(([epochS, epochCpuJ], index) => {
    const started = new Date(cursor).toISOString();
    cursor += epochS * 1000;
    return {
      index,
      status: 'ok',
      startedAt: started,
      endedAt: new Date(cursor).toISOString(),
      durationS: epochS,
      nBatch: 10,
      energy: { cpu: component(epochCpuJ, epochS), gpu: component(0, epochS, false), ram: component(0, epochS) },
      energyJ: epochCpuJ,
      ...facilityEmissions(epochCpuJ, pue),
    };
  });
  const nParameters = spec.nParameters ?? 0;
  return {
    id: spec.id ?? 'run-0001',
    kind: 'cell',
    status: spec.status ?? 'ok',
    kernelId: 'kernel-1',
    notebookPath: spec.notebookPath === undefined ? 'work/train.ipynb' : spec.notebookPath,
    cellId: 'cell-1',
    executionCount: 3,
    pid: 4242,
    label: null,
    labels: {},
    typeProcess: spec.typeProcess ?? 'training',
    nEpoch: spec.nEpoch ?? 0,
    nBatch: spec.nBatch ?? 0,
    batchesCounted: spec.batchesCounted ?? 0,
    modelId: spec.modelId ?? null,
    model: {
      framework: nParameters > 0 ? 'torch' : 'unknown',
      nParameters,
      nFeatures: spec.nFeatures ?? 0,
      sizeBucket: 'small',
      name: spec.modelName ?? null,
    },
    location: {
      countryIso3: 'ESP',
      countryName: 'Spain',
      countrySource: 'run',
      region: null,
      cloudProvider: null,
      cloudRegion: null,
      onCloud: false,
      intensityGPerKWh: INTENSITY_G_PER_KWH,
      renewableShare: spec.renewableShare === undefined ? 0.605 : spec.renewableShare,
      intensityYear: 2023,
      intensitySource: 'test',
    },
    pue,
    typeRam: 'DDR4',
    components: gpuIncluded ? ['cpu', 'gpu', 'ram'] : ['cpu', 'ram'],
    gpuIds: null,
    scope: { kind: 'machine', detail: 'test' },
    startedAt,
    endedAt,
    durationS,
    energy: {
      cpu: component(cpuJ, durationS),
      gpu: component(gpuJ, durationS, gpuIncluded),
      ram: component(ramJ, durationS),
    },
    energyJ,
    ...facilityEmissions(energyJ, pue),
    quality: 'measured',
    attribution: null,
    epochs,
    error: null,
    client: { os: 'Linux-6.8.0-x86_64-with-glibc2.39', pythonVersion: '3.11.7', tool: 'pnav_lab 0.1.0' },
    checkpointAt: null,
  };
}
