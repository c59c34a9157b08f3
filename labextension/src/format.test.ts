import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration, formatEmissions, formatEnergy, formatNumber, formatPower, pickEnergyUnit } from './format';

/** The vectors the kernel's printed summary is tested against too: one unit system everywhere. */
const VECTORS = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'test', 'fixtures', 'unit-format.json'), 'utf8'),
) as { energy: [number, string][]; emissions: [number, string][] };

describe('formatEnergy', () => {
  it.each(VECTORS.energy)('auto-scales %d J to %s, as the kernel prints it', (energyJ, expected) => {
    expect(formatEnergy(energyJ)).toBe(expected);
  });

  it('never shows 1,000 of a unit: a rounded 1000 moves to the next prefix', () => {
    expect(formatEnergy(999_600)).toBe('1 MJ');
    expect(formatEnergy(-1350)).toBe('-1.35 kJ');
  });

  it('keeps a fixed unit when asked', () => {
    expect(formatEnergy(7200, 'J')).toBe('7,200 J');
    expect(formatEnergy(7200, 'Wh')).toBe('2 Wh');
    expect(formatEnergy(36_000, 'kWh')).toBe('0.01 kWh');
    expect(formatEnergy(1350, 'kJ')).toBe('1.35 kJ');
  });

  it('picks units by magnitude', () => {
    expect(pickEnergyUnit(-5000)).toBe('kJ');
    expect(pickEnergyUnit(0)).toBe('J');
    expect(pickEnergyUnit(0.002)).toBe('mJ');
  });
});

describe('formatEmissions', () => {
  it.each(VECTORS.emissions)('auto-scales %d g to %s, as the kernel prints it', (emissionsG, expected) => {
    expect(formatEmissions(emissionsG).replace('₂', '2')).toBe(expected);
  });

  it('keeps a fixed unit, drops the label and follows a locale when asked', () => {
    expect(formatEmissions(0.5, 'g')).toBe('0.5 g CO₂e');
    expect(formatEmissions(1500, 'g')).toBe('1,500 g CO₂e');
    expect(formatEmissions(12, 'kg')).toBe('0.012 kg CO₂e');
    expect(formatEmissions(12, 'auto', { label: false })).toBe('12 g');
    expect(formatEmissions(1.5, 'g', { locale: 'de-DE' })).toBe('1,5 g CO₂e');
  });
});

describe('formatDuration', () => {
  it('uses seconds below a minute and h/min above', () => {
    expect(formatDuration(0.4213)).toBe('0.421 s');
    expect(formatDuration(59.4)).toBe('59.4 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
    expect(formatDuration(-1)).toBe('–');
  });
});

describe('formatNumber and formatPower', () => {
  it('shows three significant digits and a dash for missing values', () => {
    expect(formatNumber(Number.NaN)).toBe('–');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1.23456, 'de-DE')).toBe('1,23');
    expect(formatPower(null)).toBe('–');
    expect(formatPower(42.42)).toBe('42.4 W');
  });
});
