import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, parseSettings, SettingsHolder } from './settings';

describe('parseSettings', () => {
  it('falls back to defaults for missing or invalid values and clamps numbers', () => {
    expect(parseSettings({})).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings({ energyUnit: 'GJ', chartWindowS: 5, storeCellMetadata: 'no' })).toEqual({
      ...DEFAULT_SETTINGS,
      chartWindowS: 10,
    });
    expect(parseSettings({ energyUnit: 'kWh', emissionsUnit: 'kg', loadKernelExtension: false })).toMatchObject({
      energyUnit: 'kWh',
      emissionsUnit: 'kg',
      loadKernelExtension: false,
    });
  });

  it('notifies on update', () => {
    const holder = new SettingsHolder();
    let seen = '';
    holder.changed.connect((_, s) => {
      seen = s.energyUnit;
    });
    holder.update({ energyUnit: 'Wh' });
    expect(seen).toBe('Wh');
    expect(holder.current.energyUnit).toBe('Wh');
  });
});
