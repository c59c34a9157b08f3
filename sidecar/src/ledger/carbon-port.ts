/**
 * What the ledger needs from the carbon module (sidecar/src/carbon). Passed in rather than
 * imported so the ledger does not fix where locations come from; the input shape is carbon's own.
 */
import type { Location } from '../api/schemas.js';
import type { LocationInput } from '../carbon/index.js';

export type { LocationInput };

export interface Carbon {
  resolveLocation(input: LocationInput): Location;
  emissionsG(facilityEnergyJ: number, location: Location): number;
}
