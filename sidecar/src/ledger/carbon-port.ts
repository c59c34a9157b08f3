/**
 * What the ledger needs from the carbon module (sidecar/src/carbon). Passed in rather than
 * imported so the ledger does not fix where locations come from.
 */
import type { Location } from '../api/schemas.js';

export interface LocationInput {
  country?: string;
  region?: string;
  cloudProvider?: string;
  cloudRegion?: string;
  configCountry?: string;
  envCountry?: string;
  timeZone?: string;
}

export interface Carbon {
  resolveLocation(input: LocationInput): Location;
  emissionsG(facilityEnergyJ: number, location: Location): number;
}
