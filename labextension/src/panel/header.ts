/**
 * The panel header: connection state, country and grid intensity, PUE, and
 * per component whether its figures are measured or estimated, with the fix
 * when a sensor is missing.
 */
import { Widget } from '@lumino/widgets';
import { formatNumber } from '../format';
import type { ConnectionState } from '../stream';
import { COMPONENT_NAMES, METHOD_NAMES } from '../summary';
import type { ITrans } from '../trans';
import { COMPONENTS, type ISourceInfo, type IStatus } from '../types';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class HeaderView extends Widget {
  constructor(private _trans: ITrans) {
    super();
    this.addClass('jp-pnav-Header');
    this.render();
  }

  set state(state: ConnectionState) {
    this._state = state;
    this.render();
  }

  set status(status: IStatus | null) {
    this._status = status;
    this.render();
  }

  /** The current notebook's kernel share of the machine's energy (latest attributed run), shown beside the scope. */
  set kernelShare(share: number | null) {
    if (share === this._kernelShare) return;
    this._kernelShare = share;
    this.render();
  }

  /** The doctor's list (available and unavailable candidates); falls back to the status's. */
  set sources(sources: ISourceInfo[] | null) {
    this._sources = sources;
    this.render();
  }

  render(): void {
    const trans = this._trans;
    const node = this.node;
    node.textContent = '';
    const connection = el('div', `jp-pnav-Connection jp-pnav-Connection-${this._state}`);
    connection.setAttribute('role', 'status');
    connection.textContent = {
      connecting: trans.__('Connecting to the PNAV sidecar…'),
      live: trans.__('Live'),
      polling: trans.__('Live stream down: updating every few seconds, reconnecting…'),
      unreachable: trans.__('The PNAV sidecar is not reachable. Retrying with back-off…'),
    }[this._state];
    node.appendChild(connection);
    const status = this._status;
    if (!status) return;
    const where = status.location;
    const grid = el(
      'div',
      'jp-pnav-Grid',
      trans.__(
        '%1 (%2): %3 g CO₂e/kWh · PUE %4',
        where.countryName,
        where.countryIso3,
        formatNumber(where.intensityGPerKWh),
        formatNumber(status.pue),
      ),
    );
    grid.title = trans.__(
      'Grid intensity source: %1%2. Country from: %3.',
      where.intensitySource,
      where.intensityYear ? ` (${where.intensityYear})` : '',
      where.countrySource,
    );
    grid.appendChild(el('div', 'jp-pnav-RunMeta', trans.__('country from: %1', where.countrySource)));
    node.appendChild(grid);
    // Plainly what the figures cover: the machine, with this kernel's attributed share beside it.
    const scope = el('div', 'jp-pnav-Scope', trans.__('Scope: %1', status.scope.kind));
    scope.title = status.scope.detail;
    if (this._kernelShare !== null) {
      const share = el(
        'span',
        'jp-pnav-NoWrap jp-pnav-KernelShare',
        trans.__('· this kernel ≈ %1 %', formatNumber(this._kernelShare * 100)),
      );
      share.title = trans.__('Attributed by CPU time: an attribution, not a measurement.');
      scope.append(' ', share);
    }
    node.appendChild(scope);
    const extra = status as IStatus & { dataDir?: unknown };
    const about = el('div', 'jp-pnav-RunMeta jp-pnav-About', trans.__('sidecar %1', status.version));
    if (typeof extra.dataDir === 'string') {
      about.textContent = trans.__('sidecar %1 · data in %2', status.version, extra.dataDir);
    }
    about.title = about.textContent ?? '';
    node.appendChild(about);
    const sources = this._sources ?? status.sources;
    const list = el('ul', 'jp-pnav-Sources');
    list.setAttribute('aria-label', trans.__('Power sources'));
    for (const component of COMPONENTS) {
      const candidates = sources.filter(s => s.component === component);
      const chosen = candidates.find(s => s.available);
      const item = el('li', 'jp-pnav-Source');
      const name = el('span', 'jp-pnav-Source-name', trans.__(COMPONENT_NAMES[component]));
      item.appendChild(name);
      if (!chosen || chosen.method === 'none') {
        item.appendChild(el('span', 'jp-pnav-Source-method', trans.__('not present')));
      } else {
        item.appendChild(el('span', 'jp-pnav-Source-method', trans.__(METHOD_NAMES[chosen.method])));
        const quality = chosen.measured ? 'measured' : 'estimated';
        item.appendChild(el('span', `jp-pnav-Quality jp-pnav-Quality-${quality}`, trans.__(quality)));
      }
      // A measured source that could not be used, with its fix: the way to better figures.
      const missing = candidates.find(s => s.measured && !s.available && (s.fix || s.reason));
      const estimated = chosen === undefined || (chosen.method !== 'none' && !chosen.measured);
      if (missing && estimated) {
        const details = el('details', 'jp-pnav-Fix');
        details.appendChild(el('summary', '', trans.__('How to measure instead of estimate')));
        if (missing.reason) details.appendChild(el('p', '', missing.reason));
        if (missing.fix) details.appendChild(el('code', 'jp-pnav-Fix-command', missing.fix));
        item.appendChild(details);
      }
      list.appendChild(item);
    }
    node.appendChild(list);
  }

  private _state: ConnectionState = 'connecting';
  private _status: IStatus | null = null;
  private _sources: ISourceInfo[] | null = null;
  private _kernelShare: number | null = null;
}
