/**
 * The compact line directly under a measured cell's input (after jupyterlab-execute-time):
 * live progress while it runs (`epoch 5/10 · 687 J so far · ≈ 1.33 kJ at end`), then energy,
 * CO₂, duration, a status badge when it did not finish well and a measured/estimated badge,
 * with the methods in the tooltip. Plain DOM in a Lumino widget; no JupyterLab imports, so
 * jsdom tests it.
 */
import { Widget } from '@lumino/widgets';
import { formatDuration, formatEmissions, formatEnergy, formatNumber } from './format';
import { statusBadge } from './runStatus';
import type { IPnavSettings } from './settings';
import { describeMethods, type ICellSummary } from './summary';
import type { ITrans } from './trans';

export const CELL_LINE_CLASS = 'jp-pnav-CellLine';

type Units = Pick<IPnavSettings, 'energyUnit' | 'emissionsUnit'>;

const QUALITY_BADGES = new Set(['measured', 'estimated', 'mixed', 'coarse']);

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
    // The magic's name is an argument: the translator reads `%%` as an escaped `%`.
    this._render([this._trans.__('%1: energy will be measured when this cell runs', '%%pnav')], null, '', '');
  }

  showRunning(summary: ICellSummary, units: Units): void {
    this._phase = 'running';
    const parts: string[] = [];
    if (summary.nEpoch > 0) {
      parts.push(this._trans.__('epoch %1/%2', Math.min(summary.epochsDone + 1, summary.nEpoch), summary.nEpoch));
    } else {
      parts.push(this._trans.__('measuring… %1', formatDuration(summary.durationS)));
    }
    parts.push(this._trans.__('%1 so far', formatEnergy(summary.energyJ, units.energyUnit)));
    if (summary.predictedEnergyJ !== null) {
      parts.push(this._trans.__('≈ %1 at end', formatEnergy(summary.predictedEnergyJ, units.energyUnit)));
    }
    this._render(parts, 'running', summary.quality, this._tooltip(summary));
  }

  showDone(summary: ICellSummary, units: Units): void {
    this._phase = 'done';
    const parts = [
      formatEnergy(summary.energyJ, units.energyUnit),
      formatEmissions(summary.emissionsG, units.emissionsUnit),
      formatDuration(summary.durationS),
    ];
    if (summary.nEpoch > 0) parts.push(this._trans.__('%1/%2 epochs', summary.epochsDone, summary.nEpoch));
    this._render(parts, statusBadge(summary.status), summary.quality, this._tooltip(summary));
  }

  private _tooltip(summary: ICellSummary): string {
    const lines = describeMethods(summary.methods).map(line => this._trans.__(line));
    const share =
      summary.kernelShare === null
        ? ''
        : this._trans.__('; this kernel ≈ %1 % of it', formatNumber(summary.kernelShare * 100));
    lines.push(this._trans.__('Scope: %1%2', summary.scopeKind, share));
    lines.push(
      this._trans.__('PUE %1; grid %2 g CO₂e/kWh (%3)', summary.pue, summary.intensityGPerKWh, summary.countryIso3),
    );
    return lines.join('\n');
  }

  private _badge(kind: string, text: string): HTMLSpanElement {
    const badge = document.createElement('span');
    badge.className = `jp-pnav-Badge jp-pnav-Badge-${kind}`;
    badge.textContent = text;
    return badge;
  }

  private _render(parts: string[], status: string | null, quality: string, tooltip: string): void {
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
    const badges: string[] = [];
    if (status) {
      const badge = this._badge(status, this._trans.__(status));
      badge.classList.add('jp-pnav-StatusBadge');
      node.appendChild(badge);
      badges.push(badge.textContent ?? '');
    }
    if (QUALITY_BADGES.has(quality) && this._phase !== 'pending') {
      const badge = this._badge(quality, this._trans.__(quality));
      badge.classList.add('jp-pnav-Quality', `jp-pnav-Quality-${quality}`);
      node.appendChild(badge);
      badges.push(badge.textContent ?? '');
    }
    node.title = tooltip;
    const said = [text.textContent, ...badges].join(', ');
    node.setAttribute('aria-label', tooltip ? `${said}. ${tooltip.replace(/\n/g, '. ')}` : said);
  }

  private _phase: 'pending' | 'running' | 'done' = 'pending';
}
