/**
 * The extension's settings, typed, with the defaults of `schema/plugin.json`.
 * The upload token is deliberately not a setting.
 */
import { type ISignal, Signal } from '@lumino/signaling';
import type { EmissionsUnit, EnergyUnit } from './format';

export interface IPnavSettings {
  energyUnit: EnergyUnit;
  emissionsUnit: EmissionsUnit;
  /** Store a compact summary in each measured cell's `pnav` metadata. */
  storeCellMetadata: boolean;
  /** Run `%load_ext pnav_lab` silently when a Python kernel starts or restarts. */
  loadKernelExtension: boolean;
  /** Also print the kernel's one-line summary under a measured cell (the line under the cell shows the same figures). */
  printKernelSummary: boolean;
  /** Width of the live chart's window. */
  chartWindowS: number;
  /** Minimum time between chart redraws. */
  chartRefreshMs: number;
  /** Remembered for the upload dialog (not secret). */
  uploadEndpointUrl: string;
  uploadModelId: string;
}

export const DEFAULT_SETTINGS: IPnavSettings = {
  energyUnit: 'auto',
  emissionsUnit: 'auto',
  storeCellMetadata: true,
  loadKernelExtension: true,
  printKernelSummary: false,
  chartWindowS: 120,
  chartRefreshMs: 0,
  uploadEndpointUrl: '',
  uploadModelId: '',
};

const ENERGY_UNITS: readonly EnergyUnit[] = ['auto', 'mJ', 'J', 'kJ', 'MJ', 'Wh', 'kWh'];
const EMISSIONS_UNITS: readonly EmissionsUnit[] = ['auto', 'mg', 'g', 'kg', 't'];

function pick<T>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function bounded(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

/** Reads the registry's composite settings; anything missing or out of range takes the default. */
export function parseSettings(raw: Partial<Record<keyof IPnavSettings, unknown>>): IPnavSettings {
  const d = DEFAULT_SETTINGS;
  return {
    energyUnit: pick(raw.energyUnit, ENERGY_UNITS, d.energyUnit),
    emissionsUnit: pick(raw.emissionsUnit, EMISSIONS_UNITS, d.emissionsUnit),
    storeCellMetadata: bool(raw.storeCellMetadata, d.storeCellMetadata),
    loadKernelExtension: bool(raw.loadKernelExtension, d.loadKernelExtension),
    printKernelSummary: bool(raw.printKernelSummary, d.printKernelSummary),
    chartWindowS: bounded(raw.chartWindowS, 10, 3600, d.chartWindowS),
    chartRefreshMs: bounded(raw.chartRefreshMs, 0, 60_000, d.chartRefreshMs),
    uploadEndpointUrl: text(raw.uploadEndpointUrl, d.uploadEndpointUrl),
    uploadModelId: text(raw.uploadModelId, d.uploadModelId),
  };
}

/** The current settings plus a signal, shared by the plugins. */
export class SettingsHolder {
  get current(): IPnavSettings {
    return this._current;
  }

  get changed(): ISignal<this, IPnavSettings> {
    return this._changed;
  }

  update(raw: Partial<Record<keyof IPnavSettings, unknown>>): void {
    this._current = parseSettings(raw);
    this._changed.emit(this._current);
  }

  private _current: IPnavSettings = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<this, IPnavSettings>(this);
}
