import { describe, expect, it } from 'vitest';
import { isKnownCountryIso3 } from './countries.js';

describe('isKnownCountryIso3', () => {
  it('knows the countries of the dataset', () => {
    expect(isKnownCountryIso3('ESP')).toBe(true);
    expect(isKnownCountryIso3('FRA')).toBe(true);
  });

  it('does not know made-up, lower-case or inherited keys', () => {
    expect(isKnownCountryIso3('XXX')).toBe(false);
    expect(isKnownCountryIso3('esp')).toBe(false);
    expect(isKnownCountryIso3('constructor')).toBe(false);
  });
});
