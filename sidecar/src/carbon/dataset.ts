/**
 * The project's own carbon dataset (sidecar/data/*.json, built by scripts/build-datasets.mjs),
 * loaded once. The path is relative to this module so it works from src/ (tests) and dist/.
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../util/package-files.js';

export interface CountryIntensity {
  name: string;
  iso2: string | null;
  intensityGPerKWh: number;
  intensityYear: number | null;
  /** Key into GridDataset.sources. */
  intensitySource: string;
  renewableShare: number | null;
  renewableShareYear: number | null;
}

export interface CloudRegionIntensity {
  provider: string;
  providerName: string;
  region: string;
  countryIso3: string;
  countryName: string;
  location: string | null;
  intensityGPerKWh: number;
  source: string;
}

export interface GridDataset {
  sources: Record<
    string,
    { label: string; repository: string; commit: string; file: string; licence: string; note?: string }
  >;
  world: { intensityGPerKWh: number; year: number; source: string; renewableShare: number };
  countries: Record<string, CountryIntensity>;
  /** Keyed by `${provider}/${region}`, e.g. `gcp/europe-southwest1`. */
  cloudRegions: Record<string, CloudRegionIntensity>;
}

export interface EquivalentsDataset {
  carKm: { gCO2eqPerKm: number; year: number; description: string; source: string };
}

function loadJson<T>(name: string): T {
  return JSON.parse(readFileSync(packageFile(`data/${name}`), 'utf8')) as T;
}

let grid: GridDataset | undefined;
let equivalents: EquivalentsDataset | undefined;

export function gridDataset(): GridDataset {
  grid ??= loadJson<GridDataset>('grid-intensity.json');
  return grid;
}

export function equivalentsDataset(): EquivalentsDataset {
  equivalents ??= loadJson<EquivalentsDataset>('equivalents.json');
  return equivalents;
}
