/**
 * Energy since JupyterLab opened, from the live samples: each sample's total power times the
 * time since the previous one (a gap longer than `MAX_GAP_S`, e.g. a sleeping laptop or a lost
 * stream, is not filled in). Facility energy (× PUE) and CO₂ follow the sidecar's figures.
 *
 * Pure: no DOM.
 */
import type { ISample } from './types';

/** Longer gaps between samples are not integrated: nothing says what the power was. */
export const MAX_GAP_S = 10;

export class EnergyMeter {
  /** Adds a sample; returns false when it is older than the last one (ignored). */
  add(sample: ISample): boolean {
    const tS = sample.t / 1000;
    if (this._lastT !== null) {
      if (tS <= this._lastT) return false;
      const dtS = tS - this._lastT;
      if (dtS <= MAX_GAP_S) this._energyJ += sample.totalPowerW * dtS;
    } else {
      this._sinceMs = sample.t;
    }
    this._lastT = tS;
    this._powerW = sample.totalPowerW;
    return true;
  }

  /** IT energy (before PUE) integrated so far. */
  get energyJ(): number {
    return this._energyJ;
  }

  get powerW(): number | null {
    return this._powerW;
  }

  /** Wall-clock ms of the first sample, null before any. */
  get sinceMs(): number | null {
    return this._sinceMs;
  }

  /** Grams of CO₂e for `energyJ` × PUE at `intensityGPerKWh`. */
  static emissionsG(energyJ: number, pue: number, intensityGPerKWh: number): number {
    return ((energyJ * pue) / 3.6e6) * intensityGPerKWh;
  }

  private _energyJ = 0;
  private _powerW: number | null = null;
  private _lastT: number | null = null;
  private _sinceMs: number | null = null;
}
