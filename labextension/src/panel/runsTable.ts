/**
 * The notebook's runs as a plain DOM table, windowed: only the rows in view
 * (plus a margin) exist, between two spacer rows that keep the scroll height,
 * so 1,000 runs cost what 30 do. Rows are keyed by run id: a stream update
 * touches one row.
 */
import { type ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { formatDuration, formatEmissions, formatEnergy } from '../format';
import { countsByDefault, STATUS_NAMES, statusBadge } from '../runStatus';
import type { RunsChange, RunsModel } from '../runsModel';
import type { IPnavSettings } from '../settings';
import type { ITrans } from '../trans';
import type { IRun } from '../types';

type Units = Pick<IPnavSettings, 'energyUnit' | 'emissionsUnit'>;

/** Fixed row height (two text lines), so the window is computed without measuring. */
export const ROW_HEIGHT_PX = 34;
const OVERSCAN_ROWS = 10;
/** Used before the table has a size (hidden panel, jsdom). */
const FALLBACK_VIEW_PX = 600;

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
    // Three columns fit a 250 px sidebar: two lines per row, name over count/status/duration, energy over CO₂e.
    const headers = ['', 'Run', 'Energy / CO₂e'];
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
    this._table = table;
    this._body = table.createTBody();
    this._topSpacer = this._spacer();
    this._bottomSpacer = this._spacer();
    this._empty = document.createElement('p');
    this._empty.className = 'jp-pnav-Empty';
    this._empty.textContent = this._trans.__('No measured runs in this notebook yet. Start a cell with %1.', '%%pnav');
    this.node.append(table, this._empty);
    this._body.addEventListener('click', event => this._onClick(event));
    this._body.addEventListener('keydown', event => this._onKey(event));
    this.node.addEventListener('scroll', () => this._scheduleWindow(), { passive: true });
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

  /** Renders the rows in view from scratch (after a reset, a unit change, a scope change). */
  renderAll(): void {
    const started = performance.now();
    this._rows.clear();
    this._body.replaceChildren();
    this._renderWindow();
    this._empty.hidden = this._model.size > 0;
    this._table.setAttribute('aria-rowcount', String(this._model.size + 1));
    this._lastRenderMs = performance.now() - started;
    this.node.dataset.renderMs = this._lastRenderMs.toFixed(2);
    this.node.dataset.rows = String(this._model.size);
  }

  protected onAfterShow(): void {
    this._renderWindow();
  }

  protected onResize(): void {
    this._scheduleWindow();
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
    if (existing && !change.added) {
      this._fillRow(existing, run);
      return;
    }
    // A new run shifts the order: redraw the window (cheap: only the rows in view).
    this._renderWindow();
    this._empty.hidden = true;
    this._table.setAttribute('aria-rowcount', String(this._model.size + 1));
    this.node.dataset.rows = String(this._model.size);
  }

  /** The range of rows in view, with a margin each side. */
  private _range(): [number, number] {
    const count = this._model.size;
    const view = this.node.clientHeight || FALLBACK_VIEW_PX;
    const first = Math.max(0, Math.floor(this.node.scrollTop / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
    const last = Math.min(count, Math.ceil((this.node.scrollTop + view) / ROW_HEIGHT_PX) + OVERSCAN_ROWS);
    return [first, Math.max(first, last)];
  }

  private _renderWindow(): void {
    const runs = this._model.runs;
    const focusId = this._focusId();
    const [first, last] = this._range();
    const keep = new Map<string, HTMLTableRowElement>();
    const rows: HTMLTableRowElement[] = [this._topSpacer];
    for (let i = first; i < last; i++) {
      const run = runs[i];
      let row = this._rows.get(run.id);
      if (row) this._fillRow(row, run);
      else row = this._createRow(run);
      row.tabIndex = run.id === focusId ? 0 : -1;
      row.setAttribute('aria-rowindex', String(i + 2));
      keep.set(run.id, row);
      rows.push(row);
    }
    rows.push(this._bottomSpacer);
    this._rows = keep;
    this._topSpacer.style.height = `${first * ROW_HEIGHT_PX}px`;
    this._bottomSpacer.style.height = `${(runs.length - last) * ROW_HEIGHT_PX}px`;
    this._body.replaceChildren(...rows);
  }

  private _scheduleWindow(): void {
    if (this._frame !== null) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._renderWindow();
    });
  }

  private _spacer(): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.className = 'jp-pnav-Spacer';
    row.setAttribute('aria-hidden', 'true');
    const cell = row.insertCell();
    cell.colSpan = 3;
    return row;
  }

  private _createRow(run: IRun): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset.runId = run.id;
    // One Tab stop for the whole table (roving tabindex): arrows move, Space ticks, Enter opens.
    row.tabIndex = run.id === this._focusId() ? 0 : -1;
    row.style.height = `${ROW_HEIGHT_PX}px`;
    for (let i = 0; i < 3; i++) row.insertCell();
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.className = 'jp-pnav-RunSelect';
    box.tabIndex = -1;
    row.cells[0].appendChild(box);
    const name = document.createElement('div');
    name.className = 'jp-pnav-RunName';
    const meta = document.createElement('div');
    meta.className = 'jp-pnav-RunMeta';
    row.cells[1].append(name, meta);
    const energy = document.createElement('div');
    const emissions = document.createElement('div');
    emissions.className = 'jp-pnav-RunMeta';
    row.cells[2].append(energy, emissions);
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
    const name = cells[1].firstChild as HTMLElement;
    const meta = cells[1].lastChild as HTMLElement;
    name.textContent = label;
    name.title = label;
    const count = run.executionCount === null ? '' : `[${run.executionCount}] · `;
    const status = this._trans.__(STATUS_NAMES[run.status]);
    meta.textContent = `${count}${formatDuration(run.durationS)}`;
    meta.className = 'jp-pnav-RunMeta';
    const badge = statusBadge(run.status);
    if (badge) {
      const node = document.createElement('span');
      node.className = `jp-pnav-Badge jp-pnav-Badge-${badge}`;
      node.textContent = this._trans.__(badge);
      meta.append(' ', node);
    }
    const counted = countsByDefault(run.status, this._includeUnfinished);
    row.classList.toggle('jp-pnav-Excluded', !counted);
    row.dataset.status = run.status;
    const energy = cells[2].firstChild as HTMLElement;
    energy.textContent = formatEnergy(run.facilityEnergyJ, this._units.energyUnit);
    energy.className = `jp-pnav-Energy jp-pnav-Quality-text-${run.quality}`;
    cells[2].title = [
      this._trans.__('%1 (× PUE %2)', this._trans.__(run.quality), run.pue),
      counted ? '' : this._trans.__('Not counted in the totals, nor exported unless you tick it.'),
    ]
      .filter(Boolean)
      .join('\n');
    (cells[2].lastChild as HTMLElement).textContent = formatEmissions(run.emissionsG, this._units.emissionsUnit, {
      label: false,
    });
    row.setAttribute(
      'aria-label',
      this._trans.__(
        'Run %1, %2, %3, %4',
        label,
        status,
        formatEnergy(run.facilityEnergyJ, this._units.energyUnit),
        box.checked ? this._trans.__('ticked') : this._trans.__('not ticked'),
      ),
    );
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest('tr');
    const id = row?.dataset.runId;
    if (!id) return;
    this._focusedId = id;
    for (const [rowId, other] of this._rows) other.tabIndex = rowId === id ? 0 : -1;
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
    const id = row?.dataset.runId;
    if (!id || !row) return;
    if (event.key === 'Enter') {
      this._activated.emit(id);
    } else if (event.key === ' ') {
      event.preventDefault();
      const box = row.cells[0].firstChild as HTMLInputElement;
      box.checked = !box.checked;
      if (box.checked) this._selected.add(id);
      else this._selected.delete(id);
      const run = this._model.get(id);
      if (run) this._fillRow(row, run);
      this._selectionChanged.emit();
    } else if (['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) {
      const runs = this._model.runs;
      const at = runs.findIndex(r => r.id === id);
      const index =
        event.key === 'Home' ? 0 : event.key === 'End' ? runs.length - 1 : at + (event.key === 'ArrowDown' ? 1 : -1);
      if (index < 0 || index >= runs.length) return;
      event.preventDefault();
      this._focusedId = runs[index].id;
      // Bring the next row into the window before focusing it.
      const top = index * ROW_HEIGHT_PX;
      const view = this.node.clientHeight || FALLBACK_VIEW_PX;
      if (top < this.node.scrollTop) this.node.scrollTop = top;
      else if (top + ROW_HEIGHT_PX * 2 > this.node.scrollTop + view)
        this.node.scrollTop = top + ROW_HEIGHT_PX * 2 - view;
      this._renderWindow();
      this._rows.get(runs[index].id)?.focus();
    }
  }

  /** The row that takes the table's one Tab stop: the last one focused, else the active, else the first. */
  private _focusId(): string | null {
    const runs = this._model.runs;
    for (const id of [this._focusedId, this._activeId]) {
      if (id && this._model.get(id)) return id;
    }
    return runs[0]?.id ?? null;
  }

  /** Whether failed and interrupted runs count (the panel's toggle); re-styles the rows. */
  set includeUnfinished(value: boolean) {
    if (this._includeUnfinished === value) return;
    this._includeUnfinished = value;
    this.renderAll();
  }

  private _toggleAll(checked: boolean): void {
    this._selected = new Set(checked ? this._model.runs.map(r => r.id) : []);
    for (const [id, row] of this._rows) (row.cells[0].firstChild as HTMLInputElement).checked = this._selected.has(id);
    this._selectionChanged.emit();
  }

  private _table: HTMLTableElement;
  private _body: HTMLTableSectionElement;
  private _topSpacer: HTMLTableRowElement;
  private _bottomSpacer: HTMLTableRowElement;
  private _frame: number | null = null;
  private _empty: HTMLParagraphElement;
  private _selectAll: HTMLInputElement;
  private _rows = new Map<string, HTMLTableRowElement>();
  private _selected = new Set<string>();
  private _activeId: string | null = null;
  private _focusedId: string | null = null;
  private _includeUnfinished = false;
  private _units: Units = { energyUnit: 'auto', emissionsUnit: 'auto' };
  private _lastRenderMs = 0;
  private _activated = new Signal<this, string>(this);
  private _selectionChanged = new Signal<this, void>(this);
}
