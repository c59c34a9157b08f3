/**
 * Decorates measured cells in every open notebook: the `%%pnav` marker (as
 * soon as it is typed), the line under the cell fed by the stream's run
 * events (matched by cell id), and the `pnav` metadata summary.
 */
import type { Cell, CodeCell } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import type { PanelLayout } from '@lumino/widgets';
import { isPnavCell } from './cellLabel';
import { CellLine } from './cellLine';
import type { SettingsHolder } from './settings';
import type { IRunEventArgs, SidecarStream } from './stream';
import { type ICellSummary, METADATA_KEY, readSummary, summarize } from './summary';
import type { ITrans } from './trans';

export const MARKED_CLASS = 'jp-pnav-marked';

interface IDecoration {
  cell: Cell;
  line: CellLine | null;
  /** Last known figures: live from the stream, else from the metadata. */
  summary: ICellSummary | null;
}

export interface ICellTrackerOptions {
  tracker: INotebookTracker;
  stream: SidecarStream;
  settings: SettingsHolder;
  trans: ITrans;
}

export class CellTracker implements IDisposable {
  constructor(options: ICellTrackerOptions) {
    this._tracker = options.tracker;
    this._stream = options.stream;
    this._settings = options.settings;
    this._trans = options.trans;
    this._tracker.widgetAdded.connect(this._onAdded, this);
    this._tracker.forEach(panel => {
      this._watch(panel);
    });
    this._stream.runEvent.connect(this._onRun, this);
    this._settings.changed.connect(this._rerenderAll, this);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._tracker.widgetAdded.disconnect(this._onAdded, this);
    this._stream.runEvent.disconnect(this._onRun, this);
    this._settings.changed.disconnect(this._rerenderAll, this);
  }

  /** The cell a run belongs to, in any open notebook. */
  findCell(cellId: string): { panel: NotebookPanel; cell: Cell } | null {
    for (const [panel, decorations] of this._notebooks) {
      const decoration = decorations.get(cellId);
      if (decoration) return { panel, cell: decoration.cell };
    }
    return null;
  }

  private _onAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this._watch(panel);
  }

  private _watch(panel: NotebookPanel): void {
    if (this._notebooks.has(panel)) return;
    const decorations = new Map<string, IDecoration>();
    this._notebooks.set(panel, decorations);
    const scan = () => this._scan(panel, decorations);
    panel.context.ready.then(() => {
      if (panel.isDisposed) return;
      scan();
      // Cell widgets are created after the model changes; scan on the next frame.
      panel.model?.cells.changed.connect(() => requestAnimationFrame(scan));
    });
    panel.disposed.connect(() => this._notebooks.delete(panel));
  }

  private _scan(panel: NotebookPanel, decorations: Map<string, IDecoration>): void {
    const present = new Set<string>();
    for (const cell of panel.content.widgets) {
      const id = cell.model.id;
      present.add(id);
      if (decorations.has(id) || cell.model.type !== 'code') continue;
      const decoration: IDecoration = {
        cell,
        line: null,
        summary: readSummary(cell.model.getMetadata(METADATA_KEY)),
      };
      decorations.set(id, decoration);
      cell.model.contentChanged.connect(() => this._refresh(decoration));
      cell.disposed.connect(() => {
        if (decorations.get(id) === decoration) decorations.delete(id);
      });
      this._refresh(decoration);
    }
    for (const id of [...decorations.keys()]) {
      if (!present.has(id)) decorations.delete(id);
    }
  }

  private _onRun(_: SidecarStream, { event, run }: IRunEventArgs): void {
    if (run.cellId === null) return;
    const found = this._decorationOf(run.cellId);
    if (!found) return;
    found.summary = summarize(run);
    if (event === 'closed' && run.status !== 'open' && this._settings.current.storeCellMetadata) {
      found.cell.model.setMetadata(METADATA_KEY, found.summary);
    }
    this._refresh(found);
  }

  private _decorationOf(cellId: string): IDecoration | undefined {
    for (const decorations of this._notebooks.values()) {
      const decoration = decorations.get(cellId);
      if (decoration) return decoration;
    }
    return undefined;
  }

  /** Marker and line from the current source and figures. */
  private _refresh(decoration: IDecoration): void {
    const { cell, summary } = decoration;
    if (cell.isDisposed) return;
    const marked = isPnavCell(cell.model.sharedModel.getSource());
    cell.toggleClass(MARKED_CLASS, marked);
    if (!marked && summary === null) {
      decoration.line?.hide();
      return;
    }
    const line = decoration.line ?? this._addLine(decoration);
    line.show();
    const units = this._settings.current;
    if (summary === null) line.showPending();
    else if (summary.status === 'open') line.showRunning(summary, units);
    else line.showDone(summary, units);
  }

  /**
   * Inserts the line directly under the input area, as execute-time does. A cell that is not
   * yet rendered (windowed notebooks render cells as they scroll into view) has an empty layout:
   * wait for its first render, or the line lands above the cell's header.
   */
  private _addLine(decoration: IDecoration): CellLine {
    const line = new CellLine(this._trans);
    const cell = decoration.cell as CodeCell;
    decoration.line = line;
    cell.ready
      .then(() => {
        if (cell.isDisposed || line.isDisposed) return;
        const layout = cell.layout as PanelLayout;
        const inputIndex = layout.widgets.findIndex(widget => widget.hasClass('jp-Cell-inputWrapper'));
        layout.insertWidget(inputIndex >= 0 ? inputIndex + 1 : layout.widgets.length, line);
      })
      .catch(() => undefined);
    return line;
  }

  private _rerenderAll(): void {
    for (const decorations of this._notebooks.values()) {
      for (const decoration of decorations.values()) {
        if (decoration.line) this._refresh(decoration);
      }
    }
  }

  private _tracker: INotebookTracker;
  private _stream: SidecarStream;
  private _settings: SettingsHolder;
  private _trans: ITrans;
  private _disposed = false;
  private _notebooks = new Map<NotebookPanel, Map<string, IDecoration>>();
}
