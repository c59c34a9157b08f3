import { describe, expect, it } from 'vitest';
import { previewRows } from './previewRows';

describe('previewRows', () => {
  it('names fields, shows values in the panel units beside what is sent, main fields first', () => {
    const rows = previewRows({
      timestamp: '2026-03-02T10:00:00',
      type_process: 'training',
      model_id: 'ab'.repeat(32),
      duration: 65.5,
      emissions: 0.0000123,
      energy_consumed: 0.000375,
      n_epoch: 3,
      region: null,
      pue: 1,
    });
    expect(rows.map(r => r.key)).toEqual([
      'type_process',
      'model_id',
      'energy_consumed',
      'emissions',
      'duration',
      'n_epoch',
      'pue',
      'timestamp',
      'region',
    ]);
    const byKey = Object.fromEntries(rows.map(r => [r.key, r]));
    expect(byKey.energy_consumed).toEqual({
      key: 'energy_consumed',
      label: 'Energy consumed',
      shown: '1.35 kJ',
      sent: '0.000375 kWh',
    });
    expect(byKey.emissions.shown).toBe('12.3 mg CO₂e');
    expect(byKey.duration.shown).toBe('1 min 06 s');
    expect(byKey.model_id).toMatchObject({ label: 'Model id', shown: 'ab'.repeat(32), sent: null });
    expect(byKey.region.shown).toBe('–');
  });
});
