import { describe, expect, it } from 'vitest';
import { makeRun } from '../test-support/fixtures';
import { type RunsChange, RunsModel } from './runsModel';

function scoped(): RunsModel {
  const model = new RunsModel();
  model.setScope({ notebookPath: 'nb.ipynb', kernelId: 'k1' });
  return model;
}

describe('RunsModel', () => {
  it('keeps only the scoped notebook runs, newest first', () => {
    const model = scoped();
    model.reset([
      makeRun('a', { startedAt: '2024-01-01T00:00:01Z' }),
      makeRun('b', { startedAt: '2024-01-01T00:00:03Z' }),
      makeRun('c', { startedAt: '2024-01-01T00:00:02Z', notebookPath: 'other.ipynb' }),
      makeRun('d', { startedAt: '2024-01-01T00:00:02Z', notebookPath: null, kernelId: 'k1' }),
      makeRun('e', { startedAt: '2024-01-01T00:00:02Z', notebookPath: null, kernelId: 'k2' }),
    ]);
    expect(model.runs.map(r => r.id)).toEqual(['b', 'd', 'a']);
  });

  it('recognises the absolute path a kernel reports for the notebook', () => {
    const model = new RunsModel();
    model.setScope({ notebookPath: 'dir/nb.ipynb', kernelId: null, serverRoot: '/srv/root' });
    expect(model.upsert(makeRun('a', { notebookPath: '/srv/root/dir/nb.ipynb', kernelId: 'kx' }))).toBe(true);
    expect(model.upsert(makeRun('b', { notebookPath: '/srv/root/nb.ipynb', kernelId: 'kx' }))).toBe(false);
  });

  it('emits keyed changes on upsert and ignores runs of other notebooks', () => {
    const model = scoped();
    const changes: RunsChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    expect(model.upsert(makeRun('a'))).toBe(true);
    expect(model.upsert(makeRun('a', { energyJ: 99 }))).toBe(true);
    expect(model.upsert(makeRun('x', { notebookPath: 'other.ipynb' }))).toBe(false);
    expect(changes).toEqual([
      { kind: 'upsert', id: 'a', added: true },
      { kind: 'upsert', id: 'a', added: false },
    ]);
    expect(model.runs[0].energyJ).toBe(99);
  });

  it('adds totals over all or selected runs', () => {
    const model = scoped();
    model.reset([
      makeRun('a', { facilityEnergyJ: 10, emissionsG: 1, durationS: 2, quality: 'measured' }),
      makeRun('b', { facilityEnergyJ: 5, emissionsG: 0.5, durationS: 1, quality: 'measured', status: 'open' }),
    ]);
    expect(model.totals()).toEqual({
      count: 2,
      open: 1,
      energyJ: 15,
      emissionsG: 1.5,
      durationS: 3,
      allMeasured: true,
    });
    expect(model.totals(['b', 'missing'])).toEqual({
      count: 1,
      open: 1,
      energyJ: 5,
      emissionsG: 0.5,
      durationS: 1,
      allMeasured: true,
    });
    model.upsert(makeRun('c', { quality: 'estimated' }));
    expect(model.totals().allMeasured).toBe(false);
  });

  it('clears on scope change', () => {
    const model = scoped();
    model.upsert(makeRun('a'));
    model.setScope({ notebookPath: 'other.ipynb', kernelId: null });
    expect(model.size).toBe(0);
    expect(model.upsert(makeRun('a'))).toBe(false);
  });
});
