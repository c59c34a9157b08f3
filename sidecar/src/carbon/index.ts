/**
 * Where the energy was used and what it emitted: resolves the run's location to a grid intensity
 * from the project's own dataset (no network call), and converts facility energy to emissions.
 */
import type { Location } from '../api/schemas.js';
import { type CountryIntensity, equivalentsDataset, gridDataset } from './dataset.js';
import { type FactorsName, pnavCountryLabel, pnavFactors } from './pnav-factors.js';
import { TIMEZONE_COUNTRY } from './timezones.js';

export { equivalentsDataset, gridDataset } from './dataset.js';
export { FACTORS_NAMES, type FactorsName, pnavFactors } from './pnav-factors.js';

/** calculadorapnav's fallback country when none is known. */
export const DEFAULT_COUNTRY_ISO3 = 'ESP';

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
  /** Which emission factors: calculadorapnav's (default) or the project's newest. */
  factors?: FactorsName;
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

type LocationBase = Omit<Location, 'intensityGPerKWh' | 'renewableShare' | 'intensityYear' | 'intensitySource'>;

/** A country's figures from the chosen factors; null when they have none for it. */
function countryFigures(
  iso3: string,
  factors: FactorsName,
): (Omit<Location, keyof LocationBase> & { name: string }) | null {
  if (factors === 'pnav') {
    const c = pnavFactors().countries[iso3];
    if (!c) return null;
    const year = c.updated ? Number(c.updated.slice(0, 4)) : null;
    return {
      name: c.name,
      intensityGPerKWh: c.intensityGPerKWh,
      renewableShare: c.ref,
      intensityYear: year,
      intensitySource: pnavCountryLabel(c),
    };
  }
  const data: CountryIntensity | undefined = gridDataset().countries[iso3];
  if (!data) return null;
  return {
    name: data.name,
    intensityGPerKWh: data.intensityGPerKWh,
    renewableShare: data.renewableShare,
    intensityYear: data.intensityYear,
    intensitySource: sourceLabel(data.intensitySource, data.intensityYear),
  };
}

function countryLocation(
  iso3: string,
  countrySource: Location['countrySource'],
  input: LocationInput,
  factors: FactorsName,
): Location {
  const base = {
    countrySource,
    // calculadorapnav lower-cases the region it is given.
    region: input.region ? input.region.toLowerCase() : null,
    cloudProvider: null,
    cloudRegion: null,
    onCloud: false,
    factors,
  };
  const figures = countryFigures(iso3, factors);
  if (figures) {
    const { name, ...rest } = figures;
    return { countryIso3: iso3, countryName: name, ...base, ...rest };
  }
  // calculadorapnav's fallback for a country it has no data for: Spain, never the world average.
  const { name, ...spain } = countryFigures(DEFAULT_COUNTRY_ISO3, factors)!;
  return {
    countryIso3: DEFAULT_COUNTRY_ISO3,
    countryName: name,
    ...base,
    countrySource: 'default',
    ...spain,
    intensitySource: `no factors for ${iso3}, Spain used as calculadorapnav does; ${spain.intensitySource}`,
  };
}

/** A cloud region of the chosen factors; `latest` knows GCP only and takes AWS/Azure from the calculator's rows. */
function cloudLocation(provider: string, cloudRegion: string, factors: FactorsName): Location | null {
  const key = `${provider}/${cloudRegion}`;
  const latest = factors === 'latest' ? gridDataset().cloudRegions[key] : undefined;
  if (latest) {
    return {
      countryIso3: latest.countryIso3,
      countryName: latest.countryName,
      countrySource: 'cloud-region',
      region: latest.location,
      cloudProvider: latest.provider,
      cloudRegion: latest.region,
      onCloud: true,
      factors,
      intensityGPerKWh: latest.intensityGPerKWh,
      renewableShare: null,
      intensityYear: null,
      intensitySource: `${latest.providerName} region ${latest.region}: ${gridDataset().sources['codecarbon-impact']?.label}`,
    };
  }
  const row = pnavFactors().cloudRegions[key];
  if (!row) return null;
  return {
    countryIso3: row.countryIso3,
    countryName: row.countryName,
    countrySource: 'cloud-region',
    region: row.regionLabel || null,
    cloudProvider: row.provider,
    cloudRegion: row.region,
    onCloud: true,
    factors: 'pnav',
    intensityGPerKWh: row.intensityGPerKWh,
    // calculadorapnav writes ref = 0 for a cloud row; the renewable share of a region is not known.
    renewableShare: null,
    intensityYear: row.year,
    intensitySource: `${row.providerName} region ${row.region}, ${row.year}: calculadorapnav 1.0.2 impact.csv (${row.source})`,
  };
}

/**
 * Precedence: a known cloud provider + region → that region's intensity ('cloud-region'), as
 * calculadorapnav does; then the run's country → configuration → PNAV_COUNTRY → a guess from the time
 * zone ('timezone-guess') → Spain ('default', calculadorapnav's own fallback). An unknown cloud region
 * falls through to the country chain. The world average is never a run's location: PNAV would not
 * accept `WLD`.
 */
export function resolveLocation(input: LocationInput): Location {
  const factors = input.factors ?? 'pnav';
  const provider = input.cloudProvider?.trim().toLowerCase();
  const cloudRegion = input.cloudRegion?.trim().toLowerCase();
  if (provider && cloudRegion) {
    const cloud = cloudLocation(provider, cloudRegion, factors);
    if (cloud) return cloud;
  }
  const candidates: [string | null, Location['countrySource']][] = [
    [normaliseIso3(input.country), 'run'],
    [normaliseIso3(input.configCountry), 'config'],
    [normaliseIso3(input.envCountry), 'env'],
    [countryFromTimeZone(input.timeZone), 'timezone-guess'],
  ];
  for (const [iso3, source] of candidates) {
    if (iso3) return withCloud(countryLocation(iso3, source, input, factors), input);
  }
  return withCloud(countryLocation(DEFAULT_COUNTRY_ISO3, 'default', input, factors), input);
}

/** The world average, for a labelled "what if" only: never a run's location, never in a PNAV record. */
export function worldAverage(): { intensityGPerKWh: number; year: number; source: string } {
  const world = gridDataset().world;
  return { intensityGPerKWh: world.intensityGPerKWh, year: world.year, source: `world average: ${world.source}` };
}

/** A cloud run whose region is not in the dataset still reports its provider and region. */
function withCloud(location: Location, input: LocationInput): Location {
  if (!input.cloudProvider) return location;
  return { ...location, cloudProvider: input.cloudProvider, cloudRegion: input.cloudRegion ?? null, onCloud: true };
}
