/**
 * The status-bar item (as jupyter-resource-usage does for memory): current power, and the energy
 * and CO₂ measured since JupyterLab opened in this tab, with measured/estimated. A button: it
 * opens the PNAV panel.
 */
import { Widget } from '@lumino/widgets';
import { EnergyMeter } from './energyMeter';
import { formatEmissions, formatEnergy, formatPower } from './format';
import type { IPnavSettings } from './settings';
import type { ITrans } from './trans';
import type { ISample, IStatus } from './types';

type Units = Pick<IPnavSettings, 'energyUnit' | 'emissionsUnit'>;

/** Measured when every present component reads hardware, estimated when none does. */
export function statusQuality(status: IStatus | null): 'measured' | 'estimated' | 'mixed' | null {
  if (!status) return null;
  const inUse = status.sources.filter(s => s.available && s.method !== 'none');
  if (inUse.length === 0) return null;
  const measured = inUse.filter(s => s.measured).length;
  return measured === inUse.length ? 'measured' : measured === 0 ? 'estimated' : 'mixed';
}

export class PnavStatusItem extends Widget {
  constructor(
    private _trans: ITrans,
    private _open: () => void,
  ) {
    super({ node: document.createElement('button') });
    this.addClass('jp-pnav-StatusItem');
    this.node.setAttribute('type', 'button');
    this.node.addEventListener('click', () => this._open());
    this._render();
  }

  set units(units: Units) {
    this._units = units;
    this._render();
  }

  set status(status: IStatus | null) {
    this._status = status;
    this._render();
  }

  addSample(sample: ISample): void {
    if (!this._meter.add(sample)) return;
    // At most one repaint per second: the status bar is not a chart.
    const now = Date.now();
    if (now - this._paintedAt >= 1000) this._render();
  }

  private _render(): void {
    this._paintedAt = Date.now();
    const trans = this._trans;
    const status = this._status;
    const meter = this._meter;
    const pue = status?.pue ?? 1;
    const facilityJ = meter.energyJ * pue;
    const quality = statusQuality(status);
    const parts = [formatPower(meter.powerW), formatEnergy(facilityJ, this._units.energyUnit)];
    if (status) {
      const emissionsG = EnergyMeter.emissionsG(meter.energyJ, pue, status.location.intensityGPerKWh);
      parts.push(formatEmissions(emissionsG, this._units.emissionsUnit));
    }
    const node = this.node;
    node.textContent = '';
    const leaf = document.createElement('span');
    leaf.className = 'jp-pnav-CellLine-leaf';
    leaf.setAttribute('aria-hidden', 'true');
    const text = document.createElement('span');
    text.textContent = parts.join(' · ');
    node.append(leaf, text);
    if (quality) {
      const badge = document.createElement('span');
      badge.className = `jp-pnav-StatusItem-quality jp-pnav-Quality-text-${quality}`;
      badge.textContent = trans.__(quality);
      node.append(' ', badge);
    }
    const since = meter.sinceMs === null ? '' : new Date(meter.sinceMs).toLocaleTimeString();
    const scope = status?.scope.kind ?? 'machine';
    node.title = trans.__(
      'PNAV Lab: power now, and energy and CO₂e of the %1 since %2 (JupyterLab opened), from the live samples × PUE %3. Click to open the panel.',
      scope,
      since || trans.__('the first sample'),
      pue,
    );
    node.setAttribute(
      'aria-label',
      `${trans.__('PNAV Lab energy')}: ${parts.join(', ')}${quality ? `, ${trans.__(quality)}` : ''}`,
    );
  }

  private _meter = new EnergyMeter();
  private _status: IStatus | null = null;
  private _units: Units = { energyUnit: 'auto', emissionsUnit: 'auto' };
  private _paintedAt = 0;
}
