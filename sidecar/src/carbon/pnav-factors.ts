/**
 * calculadorapnav 1.0.2's emission factors (sidecar/data/pnav-factors.json, built by
 * scripts/build-datasets.mjs): what PNAV's own calculator puts into a record, loaded once.
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../util/package-files.js';

/** Which factors a location uses: the calculator's (`pnav`, default) or the project's newest (`latest`). */
export type FactorsName = 'pnav' | 'latest';
export const FACTORS_NAMES: readonly FactorsName[] = ['pnav', 'latest'];

export interface PnavCountryFactors {
  name: string;
  intensityGPerKWh: number;
  /** The calculator's `ref` (its `ref_TWh` key); null where its file has none. */
  ref: number | null;
  periodStart: string | null;
  periodEnd: string | null;
  updated: string | null;
}

export interface PnavCloudFactors {
  provider: string;
  providerName: string;
  region: string;
  countryIso3: string;
  countryName: string;
  /** What the calculator writes in `region` for a cloud run: the row's state, else empty. */
  regionLabel: string;
  city: string | null;
  intensityGPerKWh: number;
  year: number;
  updated: string | null;
  source: string;
}

export interface PnavFactorsDataset {
  source: { package: string; url: string; licence: string; countriesFile: string; cloudFile: string; note: string };
  year: number;
  defaultCountry: { iso3: string; reason: string };
  countries: Record<string, PnavCountryFactors>;
  /** Keyed by `${provider}/${region}`, e.g. `aws/eu-west-1`. */
  cloudRegions: Record<string, PnavCloudFactors>;
}

let dataset: PnavFactorsDataset | undefined;

export function pnavFactors(): PnavFactorsDataset {
  dataset ??= JSON.parse(readFileSync(packageFile('data/pnav-factors.json'), 'utf8')) as PnavFactorsDataset;
  return dataset;
}

/** "calculadorapnav 1.0.2 factors (week 2025-05-26..2025-06-01, updated 2025-06-04)". */
export function pnavCountryLabel(country: PnavCountryFactors): string {
  const period =
    country.periodStart && country.periodEnd && country.periodStart !== country.periodEnd
      ? `week ${country.periodStart}..${country.periodEnd}, `
      : '';
  return `calculadorapnav 1.0.2 factors (${period}updated ${country.updated ?? 'unknown'})`;
}
