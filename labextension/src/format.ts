/**
 * Number formatting with units that scale (J → Wh → kWh, mg → g → kg).
 *
 * Pure: no JupyterLab imports, so it is unit-tested in node.
 */

export type EnergyUnit = 'auto' | 'J' | 'Wh' | 'kWh';
export type EmissionsUnit = 'auto' | 'mg' | 'g' | 'kg';

const J_PER_WH = 3600;
const J_PER_KWH = 3_600_000;
const G_PER_KG = 1000;

// Building an Intl.NumberFormat costs far more than using one: a table of 1,000 runs formats 3,000 numbers.
const formatters = new Map<string, Intl.NumberFormat>();

function formatter(locale: string, significantDigits: number): Intl.NumberFormat {
  const key = `${locale}|${significantDigits}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.NumberFormat(locale, { maximumSignificantDigits: significantDigits });
    formatters.set(key, found);
  }
  return found;
}

/** Three significant digits, the precision the sensors actually support. */
export function formatNumber(value: number, locale = 'en-US', significantDigits = 3): string {
  if (!Number.isFinite(value)) {
    return '–';
  }
  if (value === 0) {
    return '0';
  }
  return formatter(locale, significantDigits).format(value);
}

/** The unit `auto` picks for an amount of energy: J below 1 Wh, Wh below 1 kWh, else kWh. */
export function pickEnergyUnit(energyJ: number): Exclude<EnergyUnit, 'auto'> {
  const magnitude = Math.abs(energyJ);
  if (magnitude < J_PER_WH) {
    return 'J';
  }
  return magnitude < J_PER_KWH ? 'Wh' : 'kWh';
}

export function convertEnergy(energyJ: number, unit: Exclude<EnergyUnit, 'auto'>): number {
  switch (unit) {
    case 'J':
      return energyJ;
    case 'Wh':
      return energyJ / J_PER_WH;
    case 'kWh':
      return energyJ / J_PER_KWH;
  }
}

export function formatEnergy(energyJ: number, unit: EnergyUnit = 'auto', locale?: string): string {
  const chosen = unit === 'auto' ? pickEnergyUnit(energyJ) : unit;
  return `${formatNumber(convertEnergy(energyJ, chosen), locale)} ${chosen}`;
}

/** The unit `auto` picks: mg below 1 g (a short cell emits milligrams), g below 1 kg, else kg. */
export function pickEmissionsUnit(emissionsG: number): Exclude<EmissionsUnit, 'auto'> {
  const magnitude = Math.abs(emissionsG);
  if (magnitude > 0 && magnitude < 1) {
    return 'mg';
  }
  return magnitude < G_PER_KG ? 'g' : 'kg';
}

function convertEmissions(emissionsG: number, unit: Exclude<EmissionsUnit, 'auto'>): number {
  switch (unit) {
    case 'mg':
      return emissionsG * 1000;
    case 'g':
      return emissionsG;
    case 'kg':
      return emissionsG / G_PER_KG;
  }
}

/** CO₂-equivalent mass, e.g. `12.3 mg CO₂e`, `1.2 kg CO₂e` (`label: false` drops `CO₂e` where a header says it). */
export function formatEmissions(
  emissionsG: number,
  unit: EmissionsUnit = 'auto',
  options: { locale?: string; label?: boolean } = {},
): string {
  const chosen = unit === 'auto' ? pickEmissionsUnit(emissionsG) : unit;
  const value = convertEmissions(emissionsG, chosen);
  const text = `${formatNumber(value, options.locale)} ${chosen}`;
  return options.label === false ? text : `${text} CO₂e`;
}

export function formatPower(powerW: number | null, locale?: string): string {
  return powerW === null ? '–' : `${formatNumber(powerW, locale)} W`;
}

/** `0.42 s`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(durationS: number, locale?: string): string {
  if (!Number.isFinite(durationS) || durationS < 0) {
    return '–';
  }
  if (durationS < 60) {
    return `${formatNumber(durationS, locale)} s`;
  }
  const totalS = Math.round(durationS);
  const hours = Math.floor(totalS / 3600);
  const minutes = Math.floor((totalS % 3600) / 60);
  const seconds = totalS % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return hours > 0 ? `${hours} h ${pad(minutes)} min` : `${minutes} min ${pad(seconds)} s`;
}
