/**
 * The compact line under a measured cell (after jupyterlab-execute-time):
 * elapsed time and energy so far while it runs; energy, CO₂, duration and a
 * measured/estimated badge when it ends, with the methods in the tooltip.
 * Plain DOM in a Lumino widget; no JupyterLab imports, so jsdom tests it.
 */
import { Widget } from '@lumino/widgets';
import { formatDuration, formatEmissions, formatEnergy } from './format';
import type { IPnavSettings } from './settings';
import { describeMethods, type ICellSummary } from './summary';
import type { ITrans } from './trans';

export const CELL_LINE_CLASS = 'jp-pnav-CellLine';

type Units = Pick<IPnavSettings, 'energyUnit' | 'emissionsUnit'>;

export class CellLine extends Widget {
  constructor(private _trans: ITrans) {
    super();
    this.addClass(CELL_LINE_CLASS);
    this.node.setAttribute('role', 'status');
    this.node.setAttribute('aria-live', 'off');
  }

  /** What the line currently shows: `pending` (marked, never run), `running` or `done`. */
  get phase(): 'pending' | 'running' | 'done' {
    return this._phase;
  }

  /** A marked cell that has not run yet (or whose figures were not kept). */
  showPending(): void {
    this._phase = 'pending';
    this._render([this._trans.__('%%pnav: energy will be measured when this cell runs')], '', '');
  }

  showRunning(summary: ICellSummary, units: Units): void {
    this._phase = 'running';
    const parts = [
      this._trans.__('measuring… %1', formatDuration(summary.durationS)),
      this._trans.__('%1 so far', formatEnergy(summary.energyJ, units.energyUnit)),
    ];
    this._render(parts, 'running', this._tooltip(summary));
  }

  showDone(summary: ICellSummary, units: Units): void {
    this._phase = 'done';
    const parts = [
      formatEnergy(summary.energyJ, units.energyUnit),
      formatEmissions(summary.emissionsG, units.emissionsUnit),
      formatDuration(summary.durationS),
    ];
    if (summary.status === 'error') parts.push(this._trans.__('ended with an error'));
    if (summary.status === 'interrupted') parts.push(this._trans.__('interrupted'));
    if (summary.nEpoch > 0) parts.push(this._trans.__('%1/%2 epochs', summary.epochsDone, summary.nEpoch));
    this._render(parts, summary.quality, this._tooltip(summary));
  }

  private _tooltip(summary: ICellSummary): string {
    const lines = describeMethods(summary.methods).map(line => this._trans.__(line));
    lines.push(
      this._trans.__('PUE %1; grid %2 g CO₂e/kWh (%3)', summary.pue, summary.intensityGPerKWh, summary.countryIso3),
    );
    return lines.join('\n');
  }

  private _render(parts: string[], quality: string, tooltip: string): void {
    const node = this.node;
    node.textContent = '';
    node.dataset.phase = this._phase;
    const icon = document.createElement('span');
    icon.className = 'jp-pnav-CellLine-leaf';
    icon.setAttribute('aria-hidden', 'true');
    node.appendChild(icon);
    const text = document.createElement('span');
    text.className = 'jp-pnav-CellLine-text';
    text.textContent = parts.join(' · ');
    node.appendChild(text);
    if (quality === 'measured' || quality === 'estimated' || quality === 'mixed') {
      const badge = document.createElement('span');
      badge.className = `jp-pnav-Quality jp-pnav-Quality-${quality}`;
      badge.textContent = this._trans.__(quality);
      node.appendChild(badge);
    }
    node.title = tooltip;
    node.setAttribute(
      'aria-label',
      tooltip ? `${text.textContent}. ${tooltip.replace(/\n/g, '. ')}` : text.textContent,
    );
  }

  private _phase: 'pending' | 'running' | 'done' = 'pending';
}
