// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { makeEpoch, makeRun } from '../test-support/fixtures';
import { CellLine } from './cellLine';
import { summarize } from './summary';
import { plainTrans } from './trans';

const units = { energyUnit: 'auto', emissionsUnit: 'auto' } as const;

describe('CellLine', () => {
  it('says a marked cell will be measured before it runs', () => {
    const line = new CellLine(plainTrans);
    line.showPending();
    expect(line.phase).toBe('pending');
    // As JupyterLab's translator formats it: the magic keeps both of its %.
    expect(line.node.textContent).toBe('%%pnav: energy will be measured when this cell runs');
  });

  it('shows elapsed time and energy so far while running', () => {
    const line = new CellLine(plainTrans);
    line.showRunning(summarize(makeRun('r', { status: 'open', durationS: 3.21, facilityEnergyJ: 45.6 })), units);
    expect(line.node.dataset.phase).toBe('running');
    expect(line.node.querySelector('.jp-pnav-CellLine-text')?.textContent).toBe('measuring… 3.21 s · 45.6 J so far');
  });

  it('shows the epoch, the energy so far and the predicted total while an epoch loop runs', () => {
    const line = new CellLine(plainTrans);
    const epochs = [0, 1, 2, 3].map(i => makeEpoch(i, { facilityEnergyJ: 133 }));
    const run = makeRun('r', { status: 'open', nEpoch: 10, epochs, facilityEnergyJ: 687 });
    line.showRunning(summarize(run), units);
    expect(line.node.querySelector('.jp-pnav-CellLine-text')?.textContent).toBe(
      'epoch 5/10 · 687 J so far · ≈ 1.33 kJ at end',
    );
  });

  it('shows energy, CO2, duration, quality and names the methods in the tooltip when done', () => {
    const line = new CellLine(plainTrans);
    const run = makeRun('r', { facilityEnergyJ: 7200, emissionsG: 0.29, durationS: 65, nEpoch: 3, quality: 'mixed' });
    line.showDone(summarize(run), { energyUnit: 'Wh', emissionsUnit: 'g' });
    expect(line.node.querySelector('.jp-pnav-CellLine-text')?.textContent).toBe(
      '2 Wh · 0.29 g CO₂e · 1 min 05 s · 0/3 epochs',
    );
    expect(line.node.querySelector('.jp-pnav-Quality-mixed')?.textContent).toBe('mixed');
    expect(line.node.title).toBe(
      'CPU: RAPL energy counters (measured)\nRAM: RAM power model (estimate)\nScope: machine\nPUE 1; grid 146.15 g CO₂e/kWh (ESP)',
    );
  });

  it('flags runs that ended with an error or were interrupted with a badge', () => {
    const line = new CellLine(plainTrans);
    line.showDone(summarize(makeRun('r', { status: 'error' })), units);
    expect(line.node.querySelector('.jp-pnav-StatusBadge')?.textContent).toBe('error');
    line.showDone(summarize(makeRun('r', { status: 'interrupted' })), units);
    expect(line.node.querySelector('.jp-pnav-StatusBadge')?.textContent).toBe('interrupted');
    line.showDone(summarize(makeRun('r')), units);
    expect(line.node.querySelector('.jp-pnav-StatusBadge')).toBeNull();
  });
});
