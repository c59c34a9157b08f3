/**
 * Plain-language equivalents of emissions.
 *
 * The factor is the one CarbonTracker uses for "this is like driving N km":
 * average CO₂ of a new passenger car registered in the EU in 2024, from the
 * European Environment Agency, as listed in CarbonTracker's
 * `emissions/conversion/co2eq.csv` (saintslab/carbontracker@70e5a02, MIT).
 * A sidecar-provided factor, when one is exposed, takes precedence.
 */

export interface IEquivalentFactor {
  /** Grams of CO₂e per unit. */
  gramsPerUnit: number;
  unit: string;
  source: string;
  year: number;
}

export const CAR_KM_FACTOR: IEquivalentFactor = {
  gramsPerUnit: 106.8,
  unit: 'km by car',
  source:
    'EEA, average CO2 emissions of new cars registered in the EU in 2024 (via CarbonTracker co2eq.csv): https://www.eea.europa.eu/en/newsroom/news/average-co2-emissions-from-new-cars-and-new-vans',
  year: 2024,
};

/** Kilometres an average new EU car drives for the same emissions. */
export function carKm(emissionsG: number, factor: IEquivalentFactor = CAR_KM_FACTOR): number {
  return emissionsG / factor.gramsPerUnit;
}

/** A distance fit for display: metres below 1 km (`190 m`), else kilometres (`2.3 km`). */
export function carDistance(
  emissionsG: number,
  factor: IEquivalentFactor = CAR_KM_FACTOR,
): { value: string; unit: 'm' | 'km' } {
  const km = carKm(emissionsG, factor);
  if (!Number.isFinite(km) || km <= 0) {
    return { value: '0', unit: 'm' };
  }
  if (km < 1) {
    const metres = km * 1000;
    return { value: metres < 1 ? metres.toPrecision(2) : String(Math.round(metres)), unit: 'm' };
  }
  return { value: km < 10 ? km.toFixed(1) : String(Math.round(km)), unit: 'km' };
}
