/**
 * The notebook's runs as a plain DOM table with keyed rows: a stream update
 * touches one row; a full render of 1,000 runs builds one fragment.
 */
import { type ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { formatDuration, formatEmissions, formatEnergy } from '../format';
import type { RunsChange, RunsModel } from '../runsModel';
import type { IPnavSettings } from '../settings';
import type { ITrans } from '../trans';
import type { IRun } from '../types';

type Units = Pick<IPnavSettings, 'energyUnit' | 'emissionsUnit'>;

/** The name a run goes by: its label (from `--label` or the cell's first line), else its id. */
export function runLabel(run: IRun): string {
  return run.label?.trim() || run.id;
}

export class RunsTable extends Widget {
  constructor(
    private _model: RunsModel,
    private _trans: ITrans,
    /** The name shown for a run; the panel resolves unlabelled runs from their cell's source. */
    private _labelOf: (run: IRun) => string = runLabel,
  ) {
    super();
    this.addClass('jp-pnav-RunsTable');
    const table = document.createElement('table');
    table.setAttribute('aria-label', this._trans.__('Runs of this notebook'));
    const head = table.createTHead().insertRow();
    const headers = ['', 'Run', '#', 'Status', 'Duration', 'Energy', 'CO₂e'];
    for (const text of headers) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = text ? this._trans.__(text) : '';
      head.appendChild(th);
    }
    this._selectAll = document.createElement('input');
    this._selectAll.type = 'checkbox';
    this._selectAll.setAttribute('aria-label', this._trans.__('Select all runs'));
    this._selectAll.addEventListener('change', () => this._toggleAll(this._selectAll.checked));
    head.cells[0].appendChild(this._selectAll);
    this._body = table.createTBody();
    this._empty = document.createElement('p');
    this._empty.className = 'jp-pnav-Empty';
    this._empty.textContent = this._trans.__('No measured runs in this notebook yet. Start a cell with %%pnav.');
    this.node.append(table, this._empty);
    this._body.addEventListener('click', event => this._onClick(event));
    this._body.addEventListener('keydown', event => this._onKey(event));
    this._model.changed.connect(this._onModel, this);
    this.renderAll();
  }

  /** Emitted with a run id when a row is activated (click or Enter). */
  get activated(): ISignal<this, string> {
    return this._activated;
  }

  get selectionChanged(): ISignal<this, void> {
    return this._selectionChanged;
  }

  /** Ids ticked for export or upload. */
  get selectedIds(): string[] {
    return [...this._selected].filter(id => this._model.get(id));
  }

  /** Time of the last full render, in ms (read by the render benchmark). */
  get lastRenderMs(): number {
    return this._lastRenderMs;
  }

  set units(units: Units) {
    this._units = units;
    this.renderAll();
  }

  set activeId(id: string | null) {
    this._rows.get(this._activeId ?? '')?.classList.remove('jp-mod-active');
    this._activeId = id;
    this._rows.get(id ?? '')?.classList.add('jp-mod-active');
  }

  renderAll(): void {
    const started = performance.now();
    this._rows.clear();
    const fragment = document.createDocumentFragment();
    for (const run of this._model.runs) {
      const row = this._createRow(run);
      this._rows.set(run.id, row);
      fragment.appendChild(row);
    }
    this._body.replaceChildren(fragment);
    this._empty.hidden = this._model.size > 0;
    this._lastRenderMs = performance.now() - started;
    this.node.dataset.renderMs = this._lastRenderMs.toFixed(2);
    this.node.dataset.rows = String(this._model.size);
  }

  dispose(): void {
    this._model.changed.disconnect(this._onModel, this);
    super.dispose();
  }

  private _onModel(_: RunsModel, change: RunsChange): void {
    if (change.kind === 'reset') {
      this._selected.clear();
      this.renderAll();
      return;
    }
    const run = this._model.get(change.id);
    if (!run) return;
    const existing = this._rows.get(run.id);
    if (existing) {
      this._fillRow(existing, run);
      return;
    }
    // New runs are the newest almost always: insert at their place without a full render.
    const index = this._model.runs.indexOf(run);
    const row = this._createRow(run);
    this._rows.set(run.id, row);
    this._body.insertBefore(row, this._body.rows[index] ?? null);
    this._empty.hidden = true;
  }

  private _createRow(run: IRun): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset.runId = run.id;
    row.tabIndex = 0;
    for (let i = 0; i < 7; i++) row.insertCell();
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.className = 'jp-pnav-RunSelect';
    row.cells[0].appendChild(box);
    if (run.id === this._activeId) row.classList.add('jp-mod-active');
    this._fillRow(row, run);
    return row;
  }

  private _fillRow(row: HTMLTableRowElement, run: IRun): void {
    const label = this._labelOf(run);
    const box = row.cells[0].firstChild as HTMLInputElement;
    box.checked = this._selected.has(run.id);
    box.setAttribute('aria-label', this._trans.__('Select run %1', label));
    const cells = row.cells;
    cells[1].textContent = label;
    cells[1].title = label;
    cells[2].textContent = run.executionCount === null ? '' : String(run.executionCount);
    cells[3].textContent = this._trans.__(run.status);
    cells[3].className = `jp-pnav-Status jp-pnav-Status-${run.status}`;
    cells[4].textContent = formatDuration(run.durationS);
    cells[5].textContent = formatEnergy(run.facilityEnergyJ, this._units.energyUnit);
    cells[5].className = `jp-pnav-Energy jp-pnav-Quality-text-${run.quality}`;
    cells[5].title = this._trans.__('%1 (× PUE %2)', this._trans.__(run.quality), run.pue);
    cells[6].textContent = formatEmissions(run.emissionsG, this._units.emissionsUnit);
    row.setAttribute('aria-label', this._trans.__('Run %1, %2', label, this._trans.__(run.status)));
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest('tr');
    const id = row?.dataset.runId;
    if (!id) return;
    if (target instanceof HTMLInputElement && target.type === 'checkbox') {
      if (target.checked) this._selected.add(id);
      else this._selected.delete(id);
      this._selectionChanged.emit();
      return;
    }
    this._activated.emit(id);
  }

  private _onKey(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest('tr');
    if (!row?.dataset.runId) return;
    if (event.key === 'Enter') {
      this._activated.emit(row.dataset.runId);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const next = event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
      (next as HTMLElement | null)?.focus();
      event.preventDefault();
    }
  }

  private _toggleAll(checked: boolean): void {
    this._selected = new Set(checked ? this._model.runs.map(r => r.id) : []);
    for (const [id, row] of this._rows) (row.cells[0].firstChild as HTMLInputElement).checked = this._selected.has(id);
    this._selectionChanged.emit();
  }

  private _body: HTMLTableSectionElement;
  private _empty: HTMLParagraphElement;
  private _selectAll: HTMLInputElement;
  private _rows = new Map<string, HTMLTableRowElement>();
  private _selected = new Set<string>();
  private _activeId: string | null = null;
  private _units: Units = { energyUnit: 'auto', emissionsUnit: 'auto' };
  private _lastRenderMs = 0;
  private _activated = new Signal<this, string>(this);
  private _selectionChanged = new Signal<this, void>(this);
}
