/** Builders of wire objects for the unit tests. */
import type { IComponentEnergy, IEpoch, IRun } from '../src/types';

export function componentEnergy(overrides: Partial<IComponentEnergy> = {}): IComponentEnergy {
  return { energyJ: 0, powerW: 0, method: 'none', measured: false, included: true, ...overrides };
}

export function makeEpoch(index: number, overrides: Partial<IEpoch> = {}): IEpoch {
  return {
    index,
    status: 'ok',
    startedAt: new Date(1_700_000_000_000 + index * 1000).toISOString(),
    endedAt: new Date(1_700_000_001_000 + index * 1000).toISOString(),
    durationS: 1,
    nBatch: 0,
    energy: {
      cpu: componentEnergy({ energyJ: 10, powerW: 10, method: 'rapl', measured: true }),
      gpu: componentEnergy({ included: false }),
      ram: componentEnergy({ energyJ: 2, powerW: 2, method: 'ram-model' }),
    },
    energyJ: 12,
    facilityEnergyJ: 12,
    emissionsG: 0.001,
    ...overrides,
  };
}

export function makeRun(id: string, overrides: Partial<IRun> = {}): IRun {
  return {
    id,
    kind: 'cell',
    status: 'ok',
    kernelId: 'k1',
    notebookPath: 'nb.ipynb',
    cellId: `cell-${id}`,
    executionCount: 1,
    pid: 123,
    label: null,
    labels: {},
    typeProcess: 'training',
    nEpoch: 0,
    nBatch: 0,
    batchesCounted: 0,
    modelId: null,
    model: { framework: 'unknown', nParameters: 0, nFeatures: 0, sizeBucket: 'small', name: null },
    location: {
      countryIso3: 'ESP',
      countryName: 'Spain',
      countrySource: 'config',
      region: null,
      cloudProvider: null,
      cloudRegion: null,
      onCloud: false,
      intensityGPerKWh: 146.15,
      renewableShare: 0.5,
      intensityYear: 2024,
      intensitySource: 'test',
    },
    pue: 1,
    typeRam: 'DDR4',
    components: ['cpu', 'ram'],
    gpuIds: null,
    scope: { kind: 'machine', detail: '' },
    startedAt: '2024-01-01T00:00:00.000Z',
    endedAt: '2024-01-01T00:00:01.000Z',
    durationS: 1,
    energy: {
      cpu: componentEnergy({ energyJ: 10, powerW: 10, method: 'rapl', measured: true }),
      gpu: componentEnergy({ included: false }),
      ram: componentEnergy({ energyJ: 2, powerW: 2, method: 'ram-model' }),
    },
    energyJ: 12,
    facilityEnergyJ: 12,
    emissionsG: 0.0005,
    quality: 'mixed',
    attribution: null,
    epochs: [],
    error: null,
    client: { os: null, pythonVersion: null, tool: null },
    checkpointAt: null,
    ...overrides,
  };
}
