import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../test-support/make-run.js';
import { aggregateRuns } from './aggregate.js';
import { runToBoamps } from './boamps.js';

const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/boamps-schema');

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const schemas = readdirSync(SCHEMA_DIR)
    .filter(name => name.endsWith('_schema.json'))
    .map(name => JSON.parse(readFileSync(path.join(SCHEMA_DIR, name), 'utf8')) as { id: string });
  for (const schema of schemas) ajv.addSchema(schema); // registered under their absolute `id`, offline
  const report = schemas.find(s => s.id.endsWith('/report_schema.json'))!;
  return ajv.getSchema(report.id)!;
}

describe('BoAmps report', () => {
  const validate = validator();

  // test-support/boamps-example.json: a BoAmps 1.1.0 report that validates against the vendored schema.
  it('the vendored schema accepts the reference example and rejects a report without dataset', () => {
    const example = JSON.parse(
      readFileSync(
        path.join(path.dirname(fileURLToPath(import.meta.url)), '../../test-support/boamps-example.json'),
        'utf8',
      ),
    );
    expect(validate(example)).toBe(true);
    const broken = structuredClone(example);
    delete broken.task.dataset;
    expect(validate(broken)).toBe(false);
  });

  it('a training run with a model and epochs validates against report_schema.json (draft-04)', () => {
    const run = makeRun({ nParameters: 120_000, nFeatures: [784], nEpoch: 10, epochs: [[10, 100]] });
    const report = runToBoamps(run, HARDWARE, {
      taskFamily: 'image classification',
      dataType: 'image',
      toolVersion: '0.1.0',
    });
    const valid = validate(report);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const r = report as {
      task: {
        taskStage: string;
        algorithms: Array<{ parametersNumber: number; epochsNumber: number }>;
        dataset: Array<{ shape: string }>;
      };
      measures: Array<{ powerConsumption: number; measurementDuration: number; cpuTrackingMode: string }>;
      infrastructure: { infraType: string; components: Array<{ componentType: string }> };
      environment: { country: string };
    };
    expect(r.task.taskStage).toBe('training');
    expect(r.task.algorithms[0].parametersNumber).toBe(0.00012);
    expect(r.task.algorithms[0].epochsNumber).toBe(10);
    expect(r.task.dataset[0].shape).toBe('(784,)');
    expect(r.measures[0].powerConsumption).toBeCloseTo(3960 / 3_600_000, 15);
    expect(r.measures[0].measurementDuration).toBe(120);
    expect(r.measures[0].cpuTrackingMode).toBe('rapl');
    expect(r.infrastructure.infraType).toBe('onPremise');
    expect(r.infrastructure.components.map(c => c.componentType)).toEqual(['cpu', 'ram']);
    expect(r.environment.country).toBe('Spain');
  });

  it('an aggregated notebook of inference runs on a GPU machine validates too', () => {
    const runs = [
      makeRun({ id: 'a', typeProcess: 'inference', gpuJ: 500, gpuIncluded: true }),
      makeRun({ id: 'b', typeProcess: 'inference', gpuJ: 700, gpuIncluded: true, endedAt: '2026-03-02T11:00:00.000Z' }),
    ];
    const hardware = { ...HARDWARE, gpuCount: 1, gpuModel: '1 x NVIDIA H100 80GB HBM3' };
    const report = runToBoamps(aggregateRuns(runs), hardware) as {
      infrastructure: { components: Array<{ componentType: string; nbComponent: number }> };
    };
    expect(validate(report)).toBe(true);
    expect(report.infrastructure.components.find(c => c.componentType === 'gpu')?.nbComponent).toBe(1);
  });
});
