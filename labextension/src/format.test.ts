import { describe, expect, it } from 'vitest';
import { formatDuration, formatEmissions, formatEnergy, formatNumber, formatPower, pickEnergyUnit } from './format';

describe('formatEnergy', () => {
  it('scales J → Wh → kWh in auto mode', () => {
    expect(formatEnergy(12.345)).toBe('12.3 J');
    expect(formatEnergy(3599)).toBe('3,600 J');
    expect(formatEnergy(3600)).toBe('1 Wh');
    expect(formatEnergy(5400)).toBe('1.5 Wh');
    expect(formatEnergy(7_200_000)).toBe('2 kWh');
  });

  it('keeps a fixed unit when asked', () => {
    expect(formatEnergy(7200, 'J')).toBe('7,200 J');
    expect(formatEnergy(7200, 'Wh')).toBe('2 Wh');
    expect(formatEnergy(36_000, 'kWh')).toBe('0.01 kWh');
  });

  it('picks units by magnitude', () => {
    expect(pickEnergyUnit(-5000)).toBe('Wh');
    expect(pickEnergyUnit(0)).toBe('J');
  });
});

describe('formatEmissions', () => {
  it('scales g → kg', () => {
    expect(formatEmissions(0.012345)).toBe('12.3 mg CO₂e');
    expect(formatEmissions(0.000928)).toBe('0.928 mg CO₂e');
    expect(formatEmissions(0)).toBe('0 g CO₂e');
    expect(formatEmissions(0.5, 'g')).toBe('0.5 g CO₂e');
    expect(formatEmissions(999)).toBe('999 g CO₂e');
    expect(formatEmissions(1500)).toBe('1.5 kg CO₂e');
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
