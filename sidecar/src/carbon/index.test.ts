import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  carKmEquivalent,
  countryFromTimeZone,
  emissionsG,
  gridDataset,
  pnavFactors,
  resolveLocation,
} from './index.js';

const raw = JSON.parse(readFileSync(new URL('../../data/grid-intensity.json', import.meta.url), 'utf8'));

describe('resolveLocation with the calculator factors (pnav, the default)', () => {
  it("gives Spain calculadorapnav 1.0.2's 125.6 g/kWh and ref 0.605 (week 2025-05-26)", () => {
    expect(resolveLocation({ country: 'ESP' })).toEqual({
      countryIso3: 'ESP',
      countryName: 'Spain',
      countrySource: 'run',
      region: null,
      cloudProvider: null,
      cloudRegion: null,
      onCloud: false,
      factors: 'pnav',
      intensityGPerKWh: 125.6,
      renewableShare: 0.605,
      intensityYear: 2025,
      intensitySource: 'calculadorapnav 1.0.2 factors (week 2025-05-26..2025-06-01, updated 2025-06-04)',
    });
  });

  it('falls back to Spain labelled default, never the world average, when nothing gives a country', () => {
    for (const input of [{}, { timeZone: 'UTC' }, { timeZone: 'Etc/UTC', envCountry: 'Spain' }]) {
      expect(resolveLocation(input)).toMatchObject({
        countryIso3: 'ESP',
        countryName: 'Spain',
        countrySource: 'default',
        intensityGPerKWh: 125.6,
      });
    }
  });

  it("an unknown country becomes Spain, as calculadorapnav's fallback, and the source names the code", () => {
    const loc = resolveLocation({ country: 'XYZ' });
    expect(loc).toMatchObject({ countryIso3: 'ESP', countrySource: 'default', intensityGPerKWh: 125.6 });
    expect(loc.intensitySource).toMatch(/^no factors for XYZ, Spain used as calculadorapnav does; calculadorapnav/);
  });

  it('knows AWS and Azure regions as the calculator does (eu-west-1 → Ireland 150 g, westeurope → Netherlands 140 g)', () => {
    expect(resolveLocation({ cloudProvider: 'aws', cloudRegion: 'eu-west-1' })).toMatchObject({
      countryIso3: 'IRL',
      countryName: 'Ireland',
      countrySource: 'cloud-region',
      region: null, // the calculator's region column is the row's state: empty for eu-west-1
      cloudProvider: 'aws',
      cloudRegion: 'eu-west-1',
      onCloud: true,
      factors: 'pnav',
      intensityGPerKWh: 150,
    });
    expect(resolveLocation({ cloudProvider: 'azure', cloudRegion: 'westeurope' })).toMatchObject({
      countryIso3: 'NLD',
      intensityGPerKWh: 140,
    });
    expect(resolveLocation({ cloudProvider: 'azure', cloudRegion: 'australiaeast' }).region).toBe('New South Wales');
  });

  it('lower-cases the region, as calculadorapnav does', () => {
    expect(resolveLocation({ country: 'ESP', region: 'Madrid' }).region).toBe('madrid');
  });
});

describe('resolveLocation with the latest factors', () => {
  it("uses the dataset's figure for Spain (2024 vintage, renewable share from the 2023 mix)", () => {
    const loc = resolveLocation({ country: 'ESP', factors: 'latest' });
    expect(loc).toEqual({
      countryIso3: 'ESP',
      countryName: 'Spain',
      countrySource: 'run',
      region: null,
      cloudProvider: null,
      cloudRegion: null,
      onCloud: false,
      factors: 'latest',
      intensityGPerKWh: raw.countries.ESP.intensityGPerKWh,
      renewableShare: raw.countries.ESP.renewableShare,
      intensityYear: 2024,
      intensitySource: 'Our World in Data (Ember) via CarbonTracker carbon-intensities.csv, 2024',
    });
    expect(loc.intensityGPerKWh).toBe(146.15);
    expect(loc.renewableShare).toBe(0.5008); // 135.08 / 269.75 TWh
  });

  it('follows run → config → PNAV_COUNTRY → time zone guess → Spain (default)', () => {
    const all = {
      country: 'FRA',
      configCountry: 'DEU',
      envCountry: 'ITA',
      timeZone: 'Europe/Lisbon',
      factors: 'latest' as const,
    };
    expect(resolveLocation(all).countrySource).toBe('run');
    expect(resolveLocation({ ...all, country: undefined })).toMatchObject({
      countryIso3: 'DEU',
      countrySource: 'config',
    });
    expect(resolveLocation({ ...all, country: undefined, configCountry: undefined })).toMatchObject({
      countryIso3: 'ITA',
      countrySource: 'env',
    });
    expect(resolveLocation({ timeZone: 'Europe/Lisbon', factors: 'latest' })).toMatchObject({
      countryIso3: 'PRT',
      countryName: 'Portugal',
      countrySource: 'timezone-guess',
    });
    expect(resolveLocation({ timeZone: 'UTC', factors: 'latest' })).toMatchObject({
      countryIso3: 'ESP',
      countrySource: 'default',
      intensityGPerKWh: 146.15,
      factors: 'latest',
    });
  });

  it('accepts a lower-case PNAV_COUNTRY and ignores a malformed one', () => {
    expect(resolveLocation({ envCountry: 'esp' }).countryIso3).toBe('ESP');
    expect(resolveLocation({ envCountry: 'Spain', timeZone: 'Europe/Madrid' }).countrySource).toBe('timezone-guess');
  });

  it('a known cloud region wins, with its own intensity (GCP Madrid 131 g)', () => {
    const loc = resolveLocation({
      country: 'FRA',
      cloudProvider: 'gcp',
      cloudRegion: 'europe-southwest1',
      factors: 'latest',
    });
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

  it("an AWS region, unknown to the latest figures, takes the calculator's row and says so", () => {
    const loc = resolveLocation({ cloudProvider: 'aws', cloudRegion: 'eu-west-1', factors: 'latest' });
    expect(loc).toMatchObject({ countryIso3: 'IRL', factors: 'pnav', intensityGPerKWh: 150 });
  });

  it('an unknown cloud region falls back to the country chain and keeps the provider', () => {
    const loc = resolveLocation({ country: 'ESP', cloudProvider: 'aws', cloudRegion: 'mars-1', factors: 'latest' });
    expect(loc).toMatchObject({ countrySource: 'run', intensityGPerKWh: 146.15, onCloud: true, cloudProvider: 'aws' });
  });
});

describe('emissionsG and equivalents', () => {
  it('is energy in kWh × g/kWh', () => {
    expect(emissionsG(3.6e6, { intensityGPerKWh: 146.15 })).toBeCloseTo(146.15, 10);
    expect(emissionsG(1800, resolveLocation({}))).toBeCloseTo(0.0628, 10); // 0.5 Wh × 125.6 g/kWh (Spain, default)
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

describe('pnav factors dataset (calculadorapnav 1.0.2)', () => {
  it('records its source, year and licence, and holds every country and the three providers', () => {
    const d = pnavFactors();
    expect(d.source.package).toBe('calculadorapnav 1.0.2 (PyPI wheel)');
    expect(d.source.licence).toMatch(/^MIT/);
    expect(d.year).toBe(2025);
    expect(d.defaultCountry.iso3).toBe('ESP');
    expect(Object.keys(d.countries)).toHaveLength(213);
    const providers = new Set(Object.values(d.cloudRegions).map(r => r.provider));
    expect([...providers].sort()).toEqual(['aws', 'azure', 'gcp']);
    // 34 AWS rows, us-west-1 and af-south-1 listed twice: the first row of each is kept.
    expect(Object.values(d.cloudRegions).filter(r => r.provider === 'aws')).toHaveLength(32);
    expect(d.countries.DEU).toMatchObject({ name: 'Germany' });
    expect(d.countries.USA?.ref).toBeNull(); // the calculator's file has ref_TWh for 24 EU countries only
  });
});
