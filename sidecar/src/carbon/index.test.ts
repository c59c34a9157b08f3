import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { carKmEquivalent, countryFromTimeZone, emissionsG, gridDataset, resolveLocation } from './index.js';

const raw = JSON.parse(readFileSync(new URL('../../data/grid-intensity.json', import.meta.url), 'utf8'));

describe('resolveLocation', () => {
  it("uses the dataset's figure for Spain (2024 vintage, renewable share from the 2023 mix)", () => {
    const loc = resolveLocation({ country: 'ESP' });
    expect(loc).toEqual({
      countryIso3: 'ESP',
      countryName: 'Spain',
      countrySource: 'run',
      region: null,
      cloudProvider: null,
      cloudRegion: null,
      onCloud: false,
      intensityGPerKWh: raw.countries.ESP.intensityGPerKWh,
      renewableShare: raw.countries.ESP.renewableShare,
      intensityYear: 2024,
      intensitySource: 'Our World in Data (Ember) via CarbonTracker carbon-intensities.csv, 2024',
    });
    expect(loc.intensityGPerKWh).toBe(146.15);
    expect(loc.renewableShare).toBe(0.5008); // 135.08 / 269.75 TWh
  });

  it('follows run → config → PNAV_COUNTRY → time zone guess → world default', () => {
    const all = { country: 'FRA', configCountry: 'DEU', envCountry: 'ITA', timeZone: 'Europe/Lisbon' };
    expect(resolveLocation(all).countrySource).toBe('run');
    expect(resolveLocation({ ...all, country: undefined })).toMatchObject({
      countryIso3: 'DEU',
      countrySource: 'config',
    });
    expect(resolveLocation({ ...all, country: undefined, configCountry: undefined })).toMatchObject({
      countryIso3: 'ITA',
      countrySource: 'env',
    });
    expect(resolveLocation({ timeZone: 'Europe/Lisbon' })).toMatchObject({
      countryIso3: 'PRT',
      countryName: 'Portugal',
      countrySource: 'timezone-guess',
    });
    expect(resolveLocation({ timeZone: 'UTC' })).toMatchObject({
      countryIso3: 'WLD',
      countrySource: 'world-default',
      intensityGPerKWh: 445,
      intensityYear: 2024,
    });
  });

  it('accepts a lower-case PNAV_COUNTRY and ignores a malformed one', () => {
    expect(resolveLocation({ envCountry: 'esp' }).countryIso3).toBe('ESP');
    expect(resolveLocation({ envCountry: 'Spain', timeZone: 'Europe/Madrid' }).countrySource).toBe('timezone-guess');
  });

  it('uses the world average for a well-formed country that has no data, and says so', () => {
    const loc = resolveLocation({ country: 'XYZ' });
    expect(loc.countryIso3).toBe('XYZ');
    expect(loc.intensityGPerKWh).toBe(445);
    expect(loc.intensitySource).toMatch(/^no data for XYZ; world average: IEA/);
  });

  it('a known cloud region wins, with its own intensity (GCP Madrid 131 g)', () => {
    const loc = resolveLocation({ country: 'FRA', cloudProvider: 'gcp', cloudRegion: 'europe-southwest1' });
    expect(loc).toMatchObject({
      countryIso3: 'ESP',
      countrySource: 'cloud-region',
      cloudProvider: 'gcp',
      cloudRegion: 'europe-southwest1',
      onCloud: true,
      intensityGPerKWh: 131,
      renewableShare: null,
    });
  });

  it('an unknown cloud region falls back to the country chain and keeps the provider', () => {
    const loc = resolveLocation({ country: 'ESP', cloudProvider: 'aws', cloudRegion: 'eu-south-2' });
    expect(loc).toMatchObject({ countrySource: 'run', intensityGPerKWh: 146.15, onCloud: true, cloudProvider: 'aws' });
  });
});

describe('emissionsG and equivalents', () => {
  it('is energy in kWh × g/kWh', () => {
    expect(emissionsG(3.6e6, { intensityGPerKWh: 146.15 })).toBeCloseTo(146.15, 10);
    expect(emissionsG(1800, resolveLocation({}))).toBeCloseTo(0.2225, 10);
  });

  it('converts to km by an average new EU car (EEA 2024, 106.8 g/km)', () => {
    expect(carKmEquivalent(106.8)).toBeCloseTo(1, 10);
  });
});

describe('dataset', () => {
  it('has ISO alpha-3 countries with name, intensity, renewable share, year and source', () => {
    const d = gridDataset();
    expect(Object.keys(d.countries).length).toBe(213);
    for (const [iso3, c] of Object.entries(d.countries)) {
      expect(iso3).toMatch(/^[A-Z]{3}$/);
      expect(c.name.length).toBeGreaterThan(0);
      expect(c.intensityGPerKWh).toBeGreaterThanOrEqual(0); // CAF is 0 in the source (all hydro)
      expect(c.renewableShare === null || (c.renewableShare >= 0 && c.renewableShare <= 1)).toBe(true);
      expect(d.sources[c.intensitySource]?.licence).toMatch(/CC BY 4.0/);
    }
  });

  it('maps the main European time zones', () => {
    expect(countryFromTimeZone('Europe/Madrid')).toBe('ESP');
    expect(countryFromTimeZone('Atlantic/Canary')).toBe('ESP');
    expect(countryFromTimeZone('Europe/Berlin')).toBe('DEU');
    expect(countryFromTimeZone('Etc/UTC')).toBeNull();
  });
});
