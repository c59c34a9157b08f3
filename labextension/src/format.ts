/**
 * Number formatting with units that scale (mJ → J → kJ → MJ, mg → g → kg → t): one unit
 * system for the cell line, the panel, the status bar and the kernel's printed summary.
 *
 * Pure: no JupyterLab imports, so it is unit-tested in node.
 */

/** `auto` scales through the SI prefixes of the joule; a fixed unit never scales. */
export type EnergyUnit = 'auto' | 'mJ' | 'J' | 'kJ' | 'MJ' | 'Wh' | 'kWh';
export type EmissionsUnit = 'auto' | 'mg' | 'g' | 'kg' | 't';

type FixedEnergyUnit = Exclude<EnergyUnit, 'auto'>;
type FixedEmissionsUnit = Exclude<EmissionsUnit, 'auto'>;

/** Joules per unit. The kernel's printed summary (python-shim `summary.py`) uses the same scale. */
const JOULES: Record<FixedEnergyUnit, number> = { mJ: 1e-3, J: 1, kJ: 1e3, MJ: 1e6, Wh: 3600, kWh: 3.6e6 };
const ENERGY_SCALE: readonly FixedEnergyUnit[] = ['mJ', 'J', 'kJ', 'MJ'];
/** Grams per unit. */
const GRAMS: Record<FixedEmissionsUnit, number> = { mg: 1e-3, g: 1, kg: 1e3, t: 1e6 };
const EMISSIONS_SCALE: readonly FixedEmissionsUnit[] = ['mg', 'g', 'kg', 't'];

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

/** `value` rounded to three significant digits, as it will be shown. */
function shown(value: number): number {
  return value === 0 || !Number.isFinite(value) ? value : Number(value.toPrecision(3));
}

/**
 * The largest unit of `scale` in which the amount reads as at least 1 once rounded, so 999.6 J
 * reads `1 kJ`, never `1,000 J`; the smallest unit for amounts below it.
 */
function pickScaled<U extends string>(amount: number, perUnit: Record<U, number>, scale: readonly U[]): U {
  const magnitude = Math.abs(amount);
  for (let i = scale.length - 1; i > 0; i--) {
    if (shown(magnitude / perUnit[scale[i]]) >= 1) return scale[i];
  }
  return scale[0];
}

/** The unit `auto` picks for an amount of energy: mJ, J, kJ or MJ (J for nothing at all). */
export function pickEnergyUnit(energyJ: number): FixedEnergyUnit {
  return energyJ === 0 ? 'J' : pickScaled(energyJ, JOULES, ENERGY_SCALE);
}

export function convertEnergy(energyJ: number, unit: FixedEnergyUnit): number {
  return energyJ / JOULES[unit];
}

/** `687 J`, `1.33 kJ`, `2.5 MJ`: the amount in `unit` (`auto` scales), three significant digits. */
export function formatEnergy(energyJ: number, unit: EnergyUnit = 'auto', locale?: string): string {
  const chosen = unit === 'auto' ? pickEnergyUnit(energyJ) : unit;
  return `${formatNumber(shown(convertEnergy(energyJ, chosen)), locale)} ${chosen}`;
}

/** The unit `auto` picks: mg, g, kg or t (g for nothing at all). */
export function pickEmissionsUnit(emissionsG: number): FixedEmissionsUnit {
  return emissionsG === 0 ? 'g' : pickScaled(emissionsG, GRAMS, EMISSIONS_SCALE);
}

/** CO₂-equivalent mass, e.g. `12.3 mg CO₂e`, `1.2 kg CO₂e` (`label: false` drops `CO₂e` where a header says it). */
export function formatEmissions(
  emissionsG: number,
  unit: EmissionsUnit = 'auto',
  options: { locale?: string; label?: boolean } = {},
): string {
  const chosen = unit === 'auto' ? pickEmissionsUnit(emissionsG) : unit;
  const text = `${formatNumber(shown(emissionsG / GRAMS[chosen]), options.locale)} ${chosen}`;
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
