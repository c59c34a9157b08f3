// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { makeEpoch, makeRun } from '../../test-support/fixtures';
import { plainTrans } from '../trans';
import { RunDetail } from './runDetail';

describe('RunDetail', () => {
  it('asks for a selection when no run is shown', () => {
    expect(new RunDetail(plainTrans).node.textContent).toBe('Select a run to see its epochs and components.');
  });

  it('shows components with methods, excluded components, epochs and the car equivalent', () => {
    const detail = new RunDetail(plainTrans);
    const run = makeRun('r', {
      label: 'train',
      emissionsG: 213.6,
      epochs: [makeEpoch(0, { facilityEnergyJ: 12 }), makeEpoch(1, { facilityEnergyJ: 24, energyJ: 24 })],
      nEpoch: 2,
    });
    detail.render(run);
    const node = detail.node;
    expect(node.querySelector('h3')?.textContent).toBe('train');
    const components = [...node.querySelectorAll('.jp-pnav-Components tbody tr')].map(r => r.textContent);
    expect(components).toEqual([
      'CPURAPL energy counters10 J10 W',
      'GPUexcluded',
      'RAMRAM power model (estimate)2 J2 W',
    ]);
    expect(node.querySelectorAll('.jp-pnav-Epochs tbody tr')).toHaveLength(2);
    expect(node.textContent).toContain('≈ 2.0 km by car');
    // The second epoch used twice the energy: its bar is full, the first one's CPU segment is scaled to it.
    const firstCpu = node.querySelector<HTMLElement>('tr[data-epoch="0"] .jp-pnav-Bar-cpu');
    expect(firstCpu?.style.width).toBe(`${(100 * 10) / 24}%`);
    // All announced epochs are done: no prediction.
    expect(node.querySelector('.jp-pnav-Prediction')).toBeNull();
  });

  it('predicts the total of an open run from its finished epochs', () => {
    const detail = new RunDetail(plainTrans);
    detail.render(
      makeRun('r', {
        status: 'open',
        nEpoch: 3,
        epochs: [makeEpoch(0, { facilityEnergyJ: 10, emissionsG: 1, durationS: 2 }), makeEpoch(1, { status: 'open' })],
      }),
    );
    expect(detail.node.querySelector('.jp-pnav-Prediction')?.textContent).toBe(
      'Predicted for 3 epochs (from 1 finished): 30 J, 3 g CO₂e, 6 s.',
    );
  });
});
