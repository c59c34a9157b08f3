import { describe, expect, it } from 'vitest';
import { CAR_KM_FACTOR, carDistance, carKm } from './equivalents';

describe('car equivalents', () => {
  it('uses the EEA 2024 factor of 106.8 g CO2e per km', () => {
    expect(CAR_KM_FACTOR.gramsPerUnit).toBe(106.8);
    expect(carKm(213.6)).toBeCloseTo(2, 10);
  });

  it('shows metres below one kilometre and kilometres above', () => {
    expect(carDistance(10.68)).toEqual({ value: '100', unit: 'm' });
    expect(carDistance(0.01)).toEqual({ value: '0.094', unit: 'm' });
    expect(carDistance(213.6)).toEqual({ value: '2.0', unit: 'km' });
    expect(carDistance(1068 * 2)).toEqual({ value: '20', unit: 'km' });
    expect(carDistance(0)).toEqual({ value: '0', unit: 'm' });
  });

  it('accepts another factor', () => {
    expect(carKm(100, { ...CAR_KM_FACTOR, gramsPerUnit: 50 })).toBe(2);
  });
});
