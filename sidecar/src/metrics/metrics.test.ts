import { describe, expect, it } from 'vitest';
import type { Run } from '../api/schemas.js';
import { ScriptedCounter } from '../ledger/__fixtures__/scripted-source.js';
import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('exposes power gauges, energy counters that only grow, open runs and closed-run energy', async () => {
    const m = createMetrics(
      [new ScriptedCounter('rapl', 'cpu', 'rapl', true), new ScriptedCounter('ram-model', 'ram', 'ram-model', false)],
      {
        site: 'lab',
      },
    );
    m.observeSample({ cpu: 40, ram: 5 }, { cpu: 40, ram: 5 });
    m.observeSample({ cpu: 20, ram: 5 }, { cpu: 20, ram: -3 });
    m.setOpenRuns(2);
    m.observeRunClosed({ kind: 'cell', status: 'ok', energyJ: 55, emissionsG: 0.5 } as Run);
    const text = await m.registry.metrics();
    expect(text).toContain('pnav_power_watts{component="cpu",method="rapl",measured="true",site="lab"} 20');
    expect(text).toContain('pnav_energy_joules_total{component="cpu",method="rapl",measured="true",site="lab"} 60');
    expect(text).toContain(
      'pnav_energy_joules_total{component="ram",method="ram-model",measured="false",site="lab"} 5',
    );
    expect(text).toContain('pnav_open_runs{site="lab"} 2');
    expect(text).toContain('pnav_run_energy_joules_sum{site="lab",kind="cell",status="ok"} 55');
    expect(text).toContain('pnav_runs_closed_total{kind="cell",status="ok",site="lab"} 1');
  });
});
