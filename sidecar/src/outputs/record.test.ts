import { describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../test-support/make-run.js';
import { aggregateId, aggregateRuns } from './aggregate.js';
import { PNAV_COLUMNS, PNAV_HEADER } from './csv/columns.js';
import { csvCells, pyJson } from './py-format.js';
import { modelSizeBucket, pnavTimestamp, runToRecord } from './record.js';

const KWH = 3_600_000;

describe('the calculadorapnav record of a run', () => {
  it('has the 40 keys in calculadorapnav order (case 1, 11)', () => {
    const record = runToRecord(makeRun(), HARDWARE);
    expect(Object.keys(record)).toEqual([...PNAV_COLUMNS]);
    expect(PNAV_HEADER).toBe(
      'timestamp,type_process,model_id,ref,duration,emissions,emissions_rate,emissions_batch,emissions_epoch,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,energy_batch,n_batch,time_batch,energy_epoch,n_epoch,time_epoch,model_size,n_parameters,n_features,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,gpu_model,ram_total_size,type_ram,on_cloud,pue',
    );
  });

  it('converts to kWh, kg and s, emissions = energy x intensity / 1000 (case 19)', () => {
    const run = makeRun({ cpuJ: 7200, ramJ: 360, durationS: 120 });
    const record = runToRecord(run, HARDWARE);
    expect(record.cpu_energy).toBe(7200 / KWH);
    expect(record.ram_energy).toBe(360 / KWH);
    expect(record.gpu_energy).toBe(0);
    expect(record.energy_consumed).toBeCloseTo(7560 / KWH, 15);
    expect(record.emissions).toBeCloseTo((record.energy_consumed * 174.05) / 1000, 15);
    expect(record.emissions_rate).toBeCloseTo(record.emissions / 120, 18);
    expect(record.duration).toBe(120);
    expect(record.cpu_power).toBe(60);
    expect(record.ram_power).toBe(3);
  });

  it('applies PUE to every energy, not to powers, and writes pue (case 20)', () => {
    const plain = runToRecord(makeRun({ pue: 1 }), HARDWARE);
    const withPue = runToRecord(makeRun({ pue: 1.5, nBatch: 4, nEpoch: 2 }), HARDWARE);
    expect(withPue.cpu_energy).toBeCloseTo(plain.cpu_energy * 1.5, 18);
    expect(withPue.ram_energy).toBeCloseTo(plain.ram_energy * 1.5, 18);
    expect(withPue.energy_consumed).toBeCloseTo(plain.energy_consumed * 1.5, 18);
    expect(withPue.energy_batch).toBeCloseTo((plain.energy_consumed * 1.5) / 4, 18);
    expect(withPue.energy_epoch).toBeCloseTo((plain.energy_consumed * 1.5) / 2, 18);
    expect(withPue.cpu_power).toBe(plain.cpu_power);
    expect(withPue.pue).toBe(1.5);
  });

  it('divides by n_batch, and writes 0 when n_batch is 0 (case 14)', () => {
    const ten = runToRecord(makeRun({ nBatch: 10 }), HARDWARE);
    expect(ten.emissions_batch).toBe(ten.emissions / 10);
    expect(ten.energy_batch).toBe(ten.energy_consumed / 10);
    expect(ten.time_batch).toBe(12);
    const none = runToRecord(makeRun({ nBatch: 0 }), HARDWARE);
    expect([none.emissions_batch, none.energy_batch, none.time_batch, none.n_batch]).toEqual([0, 0, 0, 0]);
  });

  it('uses the counted batches when no n_batch was given', () => {
    const record = runToRecord(makeRun({ nBatch: 0, batchesCounted: 40 }), HARDWARE);
    expect(record.n_batch).toBe(40);
    expect(record.time_batch).toBe(3);
  });

  it('keeps calculadorapnav per-epoch rule by process type when no epoch was measured (case 15)', () => {
    const inference = runToRecord(makeRun({ typeProcess: 'inference', nEpoch: 5 }), HARDWARE);
    expect(inference.energy_epoch).toBe(0);
    expect(inference.time_epoch).toBe(0);
    expect(inference.emissions_epoch).toBe(inference.emissions / 5);
    const training = runToRecord(makeRun({ typeProcess: 'training', nEpoch: 5 }), HARDWARE);
    expect(training.energy_epoch).toBe(training.energy_consumed / 5);
    expect(training.time_epoch).toBe(120 / 5);
    expect(training.emissions_epoch).toBe(training.emissions / 5);
  });

  it('reports the mean of the measured epochs where epochs were marked', () => {
    const run = makeRun({
      nEpoch: 0,
      durationS: 100,
      epochs: [
        [10, 1000],
        [20, 3000],
        [30, 2000],
      ],
    });
    const record = runToRecord(run, HARDWARE);
    expect(record.n_epoch).toBe(3);
    expect(record.time_epoch).toBe(20);
    expect(record.energy_epoch).toBeCloseTo(2000 / KWH, 18);
    expect(record.emissions_epoch).toBeCloseTo(((2000 / KWH) * 174.05) / 1000, 18);
    // The whole-run division would have given 100 / 3 s.
    expect(record.time_epoch).not.toBeCloseTo(100 / 3, 3);
  });

  it('buckets model size like calculadorapnav (case 16)', () => {
    expect(modelSizeBucket(99_999_999)).toBe('small');
    expect(modelSizeBucket(100_000_000)).toBe('medium');
    expect(modelSizeBucket(999_999_999)).toBe('medium');
    expect(modelSizeBucket(1_000_000_000)).toBe('large');
    const noModel = runToRecord(makeRun(), HARDWARE);
    expect([noModel.n_parameters, noModel.n_features, noModel.model_size]).toEqual([0, 0, 'small']);
    expect(runToRecord(makeRun({ nParameters: 2_000_000_000 }), HARDWARE).model_size).toBe('large');
  });

  it('fills private-infrastructure fields: on_cloud N, empty cloud fields, ref = renewable share (case 22)', () => {
    const record = runToRecord(makeRun({ renewableShare: 0.605 }), HARDWARE);
    expect(record.on_cloud).toBe('N');
    expect(record.cloud_provider).toBe('');
    expect(record.cloud_region).toBe('');
    expect(record.ref).toBe(0.605);
    expect(record.country_iso_code).toBe('ESP');
    expect(record.country_name).toBe('Spain');
  });

  it('stamps local time with %Y-%m-%dT%H:%M:%S (case 23)', () => {
    const record = runToRecord(makeRun({ endedAt: '2026-03-02T10:15:30.250Z' }), HARDWARE);
    expect(record.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    const local = new Date('2026-03-02T10:15:30.250Z');
    expect(record.timestamp).toBe(pnavTimestamp(local));
    expect(Number(record.timestamp.slice(11, 13))).toBe(local.getHours());
  });

  it("stamps the calling process's local time when the client sent its UTC offset (Madrid +60 min, sidecar in UTC)", () => {
    const run = makeRun({ endedAt: '2026-03-02T10:15:30.250Z' });
    const record = runToRecord({ ...run, client: { ...run.client, utcOffsetMin: 60 } }, HARDWARE);
    expect(record.timestamp).toBe('2026-03-02T11:15:30');
    expect(pnavTimestamp(new Date('2026-12-31T23:30:00Z'), 120)).toBe('2027-01-01T01:30:00');
    expect(pnavTimestamp(new Date('2026-03-02T01:00:00Z'), -300)).toBe('2026-03-01T20:00:00');
  });

  it('writes pue as calculadorapnav writes the value it was given: int 1 → `1`, float 1.0 → `1.0`', () => {
    const intPue = runToRecord({ ...makeRun({ pue: 1 }), pueIsInt: true }, HARDWARE);
    const floatPue = runToRecord(makeRun({ pue: 1 }), HARDWARE);
    const cells = (r: typeof intPue) => csvCells(r)[PNAV_COLUMNS.indexOf('pue')];
    expect([cells(intPue), cells(floatPue)]).toEqual(['1', '1.0']);
    expect(pyJson(intPue).endsWith('"pue": 1}')).toBe(true);
    expect(pyJson(floatPue).endsWith('"pue": 1.0}')).toBe(true);
    expect(JSON.parse(JSON.stringify(intPue)).pue).toBe(1); // the marker is not part of a preview
    expect(Object.keys(intPue)).toEqual([...PNAV_COLUMNS]);
  });

  it("writes ref 0 (an int) for a cloud region's row, as calculadorapnav does", () => {
    const run = makeRun();
    const cloud = runToRecord(
      { ...run, location: { ...run.location, countrySource: 'cloud-region', onCloud: true, renewableShare: null } },
      HARDWARE,
    );
    expect(cloud.ref).toBe(0);
    expect(csvCells(cloud)[PNAV_COLUMNS.indexOf('ref')]).toBe('0');
    expect(csvCells(runToRecord(run, HARDWARE))[PNAV_COLUMNS.indexOf('ref')]).toBe('0.605');
  });

  it('takes hardware facts and client facts; gpu_count and gpu_model are None without GPU', () => {
    const record = runToRecord(makeRun(), HARDWARE);
    expect(record.cpu_count).toBe(8);
    expect(record.cpu_model).toBe(HARDWARE.cpuModel);
    expect(record.gpu_count).toBeNull();
    expect(record.gpu_model).toBeNull();
    expect(record.ram_total_size).toBe(31.2);
    expect(record.os).toBe('Linux-6.8.0-x86_64-with-glibc2.39');
    expect(record.python_version).toBe('3.11.7');
    expect(record.type_ram).toBe('DDR4');
    const gpu = runToRecord(makeRun(), { ...HARDWARE, gpuCount: 2, gpuModel: '2 x NVIDIA H100 80GB HBM3' });
    expect([gpu.gpu_count, gpu.gpu_model]).toEqual([2, '2 x NVIDIA H100 80GB HBM3']);
  });
});

describe('notebook-to-PNAV aggregation', () => {
  const first = makeRun({
    id: 'r1',
    durationS: 60,
    cpuJ: 600,
    ramJ: 60,
    nEpoch: 2,
    epochs: [
      [20, 200],
      [30, 300],
    ],
    endedAt: '2026-03-02T10:01:00.000Z',
  });
  const second = makeRun({
    id: 'r2',
    durationS: 40,
    cpuJ: 400,
    ramJ: 40,
    nParameters: 55,
    nFeatures: 10,
    modelName: 'Linear',
    modelId: 'b'.repeat(64),
    epochs: [[40, 400]],
    endedAt: '2026-03-02T10:05:00.000Z',
  });

  it('sums energies and durations, concatenates epochs and takes the model from the run that named it', () => {
    const merged = aggregateRuns([second, first]);
    expect(merged.id).toBe(aggregateId(['r1', 'r2']));
    expect(merged.durationS).toBe(100);
    expect(merged.energyJ).toBe(1100);
    expect(merged.energy.cpu.energyJ).toBe(1000);
    expect(merged.energy.cpu.powerW).toBe(10);
    expect(merged.emissionsG).toBeCloseTo(first.emissionsG + second.emissionsG, 12);
    expect(merged.epochs.map(e => e.durationS)).toEqual([20, 30, 40]);
    expect(merged.model.nParameters).toBe(55);
    expect(merged.modelId).toBe('b'.repeat(64));
    expect(merged.endedAt).toBe('2026-03-02T10:05:00.000Z');
    const record = runToRecord(merged, HARDWARE);
    expect(record.time_epoch).toBe(30);
    expect(record.n_epoch).toBe(2); // n_epoch given by the first run; the second gave none
    expect(record.energy_consumed).toBeCloseTo(1100 / KWH, 18);
  });

  it('refuses mixed process types', () => {
    expect(() => aggregateRuns([first, makeRun({ id: 'r3', typeProcess: 'inference' })])).toThrow(
      'aggregateRuns needs runs of a single type_process',
    );
  });

  it('keeps a single run as it is', () => {
    expect(aggregateRuns([first])).toBe(first);
    expect(aggregateId(['r1'])).toBe('r1');
  });
});
