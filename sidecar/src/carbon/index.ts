/**
 * Where the energy was used and what it emitted: resolves the run's location to a grid intensity
 * from the project's own dataset (no network call), and converts facility energy to emissions.
 */
import type { Location } from '../api/schemas.js';
import { type CountryIntensity, equivalentsDataset, gridDataset } from './dataset.js';
import { TIMEZONE_COUNTRY } from './timezones.js';

export { equivalentsDataset, gridDataset } from './dataset.js';

export interface LocationInput {
  /** The run's own country (ISO alpha-3). */
  country?: string;
  region?: string;
  cloudProvider?: string;
  cloudRegion?: string;
  /** From the configuration file(s). */
  configCountry?: string;
  /** PNAV_COUNTRY. */
  envCountry?: string;
  /** IANA zone, e.g. Intl.DateTimeFormat().resolvedOptions().timeZone. */
  timeZone?: string;
}

const J_PER_KWH = 3.6e6;

/** g CO2eq for an energy that already includes PUE. */
export function emissionsG(facilityEnergyJ: number, location: Pick<Location, 'intensityGPerKWh'>): number {
  return (facilityEnergyJ / J_PER_KWH) * location.intensityGPerKWh;
}

/** Kilometres driven by an average new EU car that emit the same CO2 (EEA figure in equivalents.json). */
export function carKmEquivalent(emissionsGrams: number): number {
  return emissionsGrams / equivalentsDataset().carKm.gCO2eqPerKm;
}

export function countryFromTimeZone(timeZone: string | undefined): string | null {
  return (timeZone && TIMEZONE_COUNTRY[timeZone]) || null;
}

function normaliseIso3(code: string | undefined): string | null {
  const trimmed = code?.trim().toUpperCase();
  return trimmed && /^[A-Z]{3}$/.test(trimmed) ? trimmed : null;
}

function sourceLabel(key: string, year: number | null): string {
  const label = gridDataset().sources[key]?.label ?? key;
  return year ? `${label}, ${year}` : label;
}

function worldLocation(
  base: Omit<Location, 'intensityGPerKWh' | 'renewableShare' | 'intensityYear' | 'intensitySource'>,
): Location {
  const world = gridDataset().world;
  return {
    ...base,
    intensityGPerKWh: world.intensityGPerKWh,
    renewableShare: world.renewableShare,
    intensityYear: world.year,
    intensitySource: `world average: ${world.source}`,
  };
}

function countryLocation(iso3: string, countrySource: Location['countrySource'], input: LocationInput): Location {
  const data: CountryIntensity | undefined = gridDataset().countries[iso3];
  const base = {
    countryIso3: iso3,
    countryName: data?.name ?? iso3,
    countrySource,
    region: input.region ?? null,
    cloudProvider: null,
    cloudRegion: null,
    onCloud: false,
  };
  if (!data) {
    const world = worldLocation(base);
    return { ...world, intensitySource: `no data for ${iso3}; ${world.intensitySource}` };
  }
  return {
    ...base,
    intensityGPerKWh: data.intensityGPerKWh,
    renewableShare: data.renewableShare,
    intensityYear: data.intensityYear,
    intensitySource: sourceLabel(data.intensitySource, data.intensityYear),
  };
}

/**
 * Precedence: a known cloud provider + region → that region's intensity ('cloud-region'); then the
 * run's country → configuration → PNAV_COUNTRY → a guess from the time zone ('timezone-guess') →
 * the world average ('world-default'). An unknown cloud region falls through to the country chain.
 */
export function resolveLocation(input: LocationInput): Location {
  const provider = input.cloudProvider?.trim().toLowerCase();
  const cloudRegion = input.cloudRegion?.trim().toLowerCase();
  if (provider && cloudRegion) {
    const row = gridDataset().cloudRegions[`${provider}/${cloudRegion}`];
    if (row) {
      return {
        countryIso3: row.countryIso3,
        countryName: row.countryName,
        countrySource: 'cloud-region',
        region: input.region ?? row.location,
        cloudProvider: row.provider,
        cloudRegion: row.region,
        onCloud: true,
        intensityGPerKWh: row.intensityGPerKWh,
        // calculadorapnav writes ref = 0 for a cloud row; the share of a cloud region is not known.
        renewableShare: null,
        intensityYear: null,
        intensitySource: `${row.providerName} region ${row.region}: ${gridDataset().sources['codecarbon-impact']?.label}`,
      };
    }
  }
  const candidates: [string | null, Location['countrySource']][] = [
    [normaliseIso3(input.country), 'run'],
    [normaliseIso3(input.configCountry), 'config'],
    [normaliseIso3(input.envCountry), 'env'],
    [countryFromTimeZone(input.timeZone), 'timezone-guess'],
  ];
  for (const [iso3, source] of candidates) {
    if (iso3) return withCloud(countryLocation(iso3, source, input), input);
  }
  return withCloud(
    worldLocation({
      countryIso3: 'WLD',
      countryName: 'World',
      countrySource: 'world-default',
      region: input.region ?? null,
      cloudProvider: null,
      cloudRegion: null,
      onCloud: false,
    }),
    input,
  );
}

/** A cloud run whose region is not in the dataset still reports its provider and region. */
function withCloud(location: Location, input: LocationInput): Location {
  if (!input.cloudProvider) return location;
  return { ...location, cloudProvider: input.cloudProvider, cloudRegion: input.cloudRegion ?? null, onCloud: true };
}
