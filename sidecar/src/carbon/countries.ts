/** Which country codes the sidecar knows: those with a grid intensity in the project's dataset. */
import { gridDataset } from './dataset.js';

/** True for an ISO 3166-1 alpha-3 code in the dataset (upper case, e.g. ESP). */
export function isKnownCountryIso3(code: string): boolean {
  return Object.hasOwn(gridDataset().countries, code);
}
