/**
 * Which grid location `pnav measure` reports. The sidecar's status shows its own default, but the
 * cells' runs may use another (`--country`, a `%%pnav --country`, a project config file): the
 * header shows the one the wrapped cells will use, the reports the one the runs did use.
 */
import type { Location } from '../../api/schemas.js';
import { resolveLocation } from '../../carbon/index.js';
import type { CellResult } from './cell-result.js';

/** The location a wrapped cell will get: `--country` of `pnav measure` wins over the sidecar's default. */
export function expectedLocation(sidecarDefault: Location, country: string | undefined): Location {
  return country ? resolveLocation({ country }) : sidecarDefault;
}

/** What a cell's figures were computed with: enough to recompute emissions from energy. */
export function cellLocation(location: Location) {
  const { countryIso3, countryName, countrySource, region, cloudProvider, cloudRegion, intensityGPerKWh } = location;
  return { countryIso3, countryName, countrySource, region, cloudProvider, cloudRegion, intensityGPerKWh };
}

export interface RunsLocation {
  /** The location every run used; the expected one when no cell was measured; the first run's when they differ. */
  location: Location;
  /** True when the runs used more than one location (each cell then names its own). */
  mixed: boolean;
}

export function runsLocation(results: CellResult[], expected: Location): RunsLocation {
  const used = results.flatMap(result => (result.run ? [result.run.location] : []));
  if (used.length === 0) return { location: expected, mixed: false };
  const key = (l: Location) => JSON.stringify(cellLocation(l));
  return { location: used[0]!, mixed: new Set(used.map(key)).size > 1 };
}
