/**
 * One run in detail: figures per component with their methods, batches, the
 * prediction from finished epochs, a car-distance equivalent, and the epoch
 * table with a bar per epoch (energy split by component, and time).
 */
import { Widget } from '@lumino/widgets';
import { epochRows, type IEpochRow } from '../epochRows';
import { CAR_KM_FACTOR, carDistance } from '../equivalents';
import { formatDuration, formatEmissions, formatEnergy, formatNumber, formatPower } from '../format';
import { predictRun } from '../prediction';
import { STATUS_NAMES } from '../runStatus';
import type { IPnavSettings } from '../settings';
import { COMPONENT_NAMES, METHOD_NAMES } from '../summary';
import type { ITrans } from '../trans';
import { COMPONENTS, type Component, type IRun } from '../types';
import { runLabel } from './runsTable';

type Units = Pick<IPnavSettings, 'energyUnit' | 'emissionsUnit'>;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class RunDetail extends Widget {
  constructor(
    private _trans: ITrans,
    private _labelOf: (run: IRun) => string = runLabel,
  ) {
    super();
    this.addClass('jp-pnav-RunDetail');
    this.node.setAttribute('aria-live', 'polite');
    this.render(null);
  }

  set units(units: Units) {
    this._units = units;
    this.render(this._run);
  }

  get runId(): string | null {
    return this._run?.id ?? null;
  }

  render(run: IRun | null): void {
    this._run = run;
    const trans = this._trans;
    const node = this.node;
    node.textContent = '';
    if (!run) {
      node.appendChild(el('p', 'jp-pnav-Empty', trans.__('Select a run to see its epochs and components.')));
      return;
    }
    const units = this._units;
    node.appendChild(el('h3', 'jp-pnav-RunDetail-title', this._labelOf(run)));
    const facts = el('dl', 'jp-pnav-Facts');
    const fact = (name: string, value: string, title = '') => {
      const dt = el('dt', '', name);
      const dd = el('dd', '', value);
      if (title) dd.title = title;
      facts.append(dt, dd);
      return dd;
    };
    fact(trans.__('Status'), trans.__(STATUS_NAMES[run.status]) + (run.error ? ` – ${run.error}` : ''));
    fact(
      trans.__('Energy'),
      formatEnergy(run.facilityEnergyJ, units.energyUnit),
      trans.__('%1 of IT energy × PUE %2', formatEnergy(run.energyJ, units.energyUnit), run.pue),
    );
    const distance = carDistance(run.emissionsG);
    const co2 = fact(
      trans.__('CO₂e'),
      `${formatEmissions(run.emissionsG, units.emissionsUnit)} `,
      trans.__('%1 g CO₂e per km: %2', CAR_KM_FACTOR.gramsPerUnit, CAR_KM_FACTOR.source),
    );
    // One phrase that wraps as a whole, never inside.
    co2.appendChild(
      el(
        'span',
        'jp-pnav-NoWrap',
        `(${distance.unit === 'km' ? trans.__('≈ %1 km by car', distance.value) : trans.__('≈ %1 m by car', distance.value)})`,
      ),
    );
    fact(trans.__('Duration'), formatDuration(run.durationS));
    fact(trans.__('Quality'), trans.__(run.quality));
    const batches = Math.max(run.nBatch, run.batchesCounted);
    if (batches > 0) fact(trans.__('Batches'), String(batches));
    // Plainly: the figures are the whole machine's; the kernel's attributed share sits beside them.
    const scope = fact(trans.__('Scope'), run.scope.kind, run.scope.detail);
    if (run.attribution) {
      const share = el(
        'span',
        'jp-pnav-NoWrap jp-pnav-KernelShare',
        trans.__(
          '· this kernel ≈ %1 % (%2)',
          formatNumber(run.attribution.share * 100),
          formatEnergy(run.attribution.energyJ, units.energyUnit),
        ),
      );
      share.title = trans.__(
        'Share of the machine energy attributed to this kernel (CPU by CPU time, GPU by GPU memory, RAM by resident memory): an attribution, not a measurement.',
      );
      scope.append(' ', share);
    }
    node.appendChild(facts);
    node.appendChild(this._components(run));
    const prediction = predictRun(run);
    if (prediction && (run.status === 'open' || prediction.epochsDone < prediction.nEpoch)) {
      const box = el('p', 'jp-pnav-Prediction');
      box.textContent = trans.__(
        'Predicted for %1 epochs (from %2 finished): %3, %4, %5.',
        prediction.nEpoch,
        prediction.epochsDone,
        formatEnergy(prediction.energyJ, units.energyUnit),
        formatEmissions(prediction.emissionsG, units.emissionsUnit),
        formatDuration(prediction.durationS),
      );
      box.title = trans.__(
        'Mean energy of the finished epochs × the announced number of epochs, as CarbonTracker does.',
      );
      node.appendChild(box);
    }
    const rows = epochRows(run);
    if (rows.length > 0) {
      const present = COMPONENTS.filter(c => rows.some(row => (row.componentsJ[c] ?? 0) > 0));
      node.append(this._legend(present), this._epochs(rows));
    }
  }

  /** Three columns fit 250 px: the method goes under the component's name, not in a fourth column. */
  private _components(run: IRun): HTMLTableElement {
    const trans = this._trans;
    const table = el('table', 'jp-pnav-Components');
    table.setAttribute('aria-label', trans.__('Energy per component'));
    const head = table.createTHead().insertRow();
    for (const text of ['Component', 'Energy', 'Mean power']) head.appendChild(el('th', '', trans.__(text)));
    const body = table.createTBody();
    for (const component of COMPONENTS) {
      const figure = run.energy[component];
      const row = body.insertRow();
      const name = row.insertCell();
      name.appendChild(el('div', 'jp-pnav-ComponentName', trans.__(COMPONENT_NAMES[component])));
      if (!figure.included || figure.method === 'none') {
        const absent = row.insertCell();
        absent.colSpan = 2;
        absent.textContent = figure.included ? trans.__('not present') : trans.__('excluded');
        continue;
      }
      const quality = figure.measured ? 'measured' : 'estimated';
      name.appendChild(el('div', `jp-pnav-RunMeta jp-pnav-Method-${quality}`, trans.__(METHOD_NAMES[figure.method])));
      row.insertCell().textContent = formatEnergy(figure.energyJ, this._units.energyUnit);
      row.insertCell().textContent = formatPower(figure.powerW);
    }
    return table;
  }

  /** Which colour is which component in the epoch bars. */
  private _legend(present: readonly Component[]): HTMLElement {
    const legend = el('div', 'jp-pnav-Legend');
    legend.setAttribute('aria-hidden', 'true');
    const keys: [string, string][] = [
      ...present.map(c => [c, COMPONENT_NAMES[c]] as [string, string]),
      ['duration', 'time'],
    ];
    for (const [key, text] of keys) {
      const item = el('span', 'jp-pnav-Legend-item');
      item.append(el('span', `jp-pnav-Legend-swatch jp-pnav-Bar-${key}`), this._trans.__(text));
      legend.appendChild(item);
    }
    return legend;
  }

  /** Epoch rows with a stacked bar (CPU/GPU/RAM) scaled to the largest row, and a time bar. */
  private _epochs(rows: IEpochRow[]): HTMLTableElement {
    const trans = this._trans;
    const units = this._units;
    const table = el('table', 'jp-pnav-Epochs');
    table.setAttribute('aria-label', trans.__('Energy and time per epoch, numbered as your loop numbers them'));
    const head = table.createTHead().insertRow();
    // Narrow sidebar: totals per epoch in columns, the split by component in the bar (title and aria-label).
    for (const text of ['Epoch', 'Time', 'Energy', 'CO₂e', 'Split']) {
      head.appendChild(el('th', '', trans.__(text)));
    }
    const maxEnergy = Math.max(...rows.map(row => row.itEnergyJ), Number.MIN_VALUE);
    const maxTime = Math.max(...rows.map(r => r.durationS), Number.MIN_VALUE);
    const body = table.createTBody();
    for (const epoch of rows) {
      const row = body.insertRow();
      const name = epoch.index === null ? trans.__('outside epochs') : String(epoch.index);
      row.dataset.epoch = epoch.index === null ? 'outside' : String(epoch.index);
      if (epoch.status === 'open') row.classList.add('jp-pnav-Epoch-open');
      if (epoch.index === null) {
        row.classList.add('jp-pnav-Epoch-outside');
        row.title = trans.__('Set-up, evaluation and anything else the run did before, between or after its epochs.');
      }
      row.insertCell().textContent = name;
      row.insertCell().textContent = formatDuration(epoch.durationS);
      row.insertCell().textContent = formatEnergy(epoch.facilityEnergyJ, units.energyUnit);
      row.insertCell().textContent = formatEmissions(epoch.emissionsG, units.emissionsUnit, { label: false });
      const barCell = row.insertCell();
      barCell.className = 'jp-pnav-Bars';
      const energyBar = el('div', 'jp-pnav-Bar');
      energyBar.setAttribute('role', 'img');
      const included = COMPONENTS.filter(c => epoch.componentsJ[c] !== undefined);
      const parts = included.map(
        c => `${trans.__(COMPONENT_NAMES[c])} ${formatEnergy(epoch.componentsJ[c] ?? 0, units.energyUnit)}`,
      );
      const description =
        epoch.index === null
          ? trans.__('Outside epochs: %1 in %2', parts.join(', '), formatDuration(epoch.durationS))
          : trans.__('Epoch %1: %2 in %3', epoch.index, parts.join(', '), formatDuration(epoch.durationS));
      energyBar.setAttribute('aria-label', description);
      energyBar.title = description;
      for (const component of included) {
        const energyJ = epoch.componentsJ[component] ?? 0;
        if (energyJ <= 0) continue;
        const segment = el('span', `jp-pnav-Bar-${component}`);
        segment.style.width = `${(100 * energyJ) / maxEnergy}%`;
        segment.title = `${trans.__(COMPONENT_NAMES[component])}: ${formatEnergy(energyJ, units.energyUnit)}`;
        energyBar.appendChild(segment);
      }
      const timeBar = el('div', 'jp-pnav-Bar jp-pnav-Bar-time');
      const timeSegment = el('span', 'jp-pnav-Bar-duration');
      timeSegment.style.width = `${(100 * epoch.durationS) / maxTime}%`;
      timeSegment.title = formatDuration(epoch.durationS);
      timeBar.appendChild(timeSegment);
      barCell.append(energyBar, timeBar);
    }
    return table;
  }

  private _run: IRun | null = null;
  private _units: Units = { energyUnit: 'auto', emissionsUnit: 'auto' };
}
