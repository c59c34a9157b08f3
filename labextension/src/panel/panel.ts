/**
 * The PNAV side panel: header, live power chart with pause and rate, the
 * current notebook's runs with totals, the selected run's detail, and upload
 * status. It follows the notebook in focus.
 */
import { PageConfig } from '@jupyterlab/coreutils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { CommandRegistry } from '@lumino/commands';
import { type ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';
import { pnavCellInfo } from '../cellLabel';
import { errorMessage } from '../errors';
import { formatDuration, formatEmissions, formatEnergy } from '../format';
import { leafIcon } from '../icons';
import { pathCandidates } from '../notebookPath';
import { requestAPI } from '../request';
import { countsByDefault } from '../runStatus';
import { RunsModel } from '../runsModel';
import type { SettingsHolder } from '../settings';
import type { IRunEventArgs, SidecarStream } from '../stream';
import type { ITrans } from '../trans';
import { COMPONENTS, type Component, type IDoctor, type IRun, type IStatus } from '../types';
import { HeaderView } from './header';
import { PowerChart } from './powerChart';
import { RunDetail } from './runDetail';
import { RunsTable } from './runsTable';
import { UploadsView } from './uploads';

export const PANEL_ID = 'pnav-lab-panel';
const RUNS_LIMIT = 5000;
const RATES_MS = [0, 1000, 5000];

export interface IPnavPanelOptions {
  stream: SidecarStream;
  settings: SettingsHolder;
  trans: ITrans;
  tracker: INotebookTracker;
  commands: CommandRegistry;
  /** Command ids of the toolbar buttons. */
  commandIds: { exportCsv: string; exportJson: string; exportBoamps: string; upload: string };
}

export interface ISelectionInfo {
  runIds: string[];
  /** For dialogs: "3 selected runs" / "all 12 runs of nb.ipynb". */
  description: string;
  /** The runs themselves, oldest first (the dialogs group them by process type). */
  runs: IRun[];
  /** The notebook's path, for file names. */
  notebookPath: string | null;
}

export class PnavPanel extends Panel {
  constructor(private _options: IPnavPanelOptions) {
    super();
    const { stream, settings, trans } = _options;
    this.id = PANEL_ID;
    this.addClass('jp-pnav-Panel');
    this.title.icon = leafIcon;
    this.title.caption = trans.__('PNAV Lab: energy and CO₂');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('PNAV Lab energy panel'));

    this._header = new HeaderView(trans);
    this._chart = new PowerChart(trans);
    const labelOf = (run: IRun) => this._labelOf(run);
    this._table = new RunsTable(this._model, trans, labelOf);
    this._detail = new RunDetail(trans, labelOf);
    this._uploads = new UploadsView(stream.serverSettings, trans, upload =>
      upload.runIds.some(id => this._model.get(id) !== undefined),
    );
    this._totals = new Widget();
    this._totals.addClass('jp-pnav-Totals');
    this._totals.node.setAttribute('aria-live', 'polite');

    this.addWidget(this._title());
    this.addWidget(this._header);
    this.addWidget(this._chartControls());
    this.addWidget(this._chart);
    this.addWidget(this._sectionTitle(trans.__('This notebook')));
    this.addWidget(this._totals);
    this.addWidget(this._includeToggle());
    this.addWidget(this._actions());
    this.addWidget(this._table);
    this.addWidget(this._detail);
    this.addWidget(this._uploads);

    stream.sample.connect((_, sample) => this._chart.addSample(sample), this);
    stream.runEvent.connect(this._onRun, this);
    stream.status.connect((_, status) => {
      this._header.status = status;
      this._chart.components = presentComponents(status);
      this._loadDoctor();
    }, this);
    stream.stateChanged.connect((_, state) => {
      this._header.state = state;
      // Events were missed while the socket was down.
      if (state === 'live') this._loadRuns();
    }, this);
    this._header.state = stream.state;
    this._header.status = stream.lastStatus;
    if (stream.lastStatus) this._chart.components = presentComponents(stream.lastStatus);
    settings.changed.connect(this._applySettings, this);
    this._applySettings();
    this._model.changed.connect(() => this._scheduleTotals(), this);
    this._table.activated.connect((_, id) => this.activateRun(id), this);
    this._table.selectionChanged.connect(() => this._selectionChanged.emit(), this);
    _options.tracker.currentChanged.connect((_, panel) => this._follow(panel), this);
    this._follow(_options.tracker.currentWidget);
  }

  get model(): RunsModel {
    return this._model;
  }

  get chart(): PowerChart {
    return this._chart;
  }

  get table(): RunsTable {
    return this._table;
  }

  get paused(): boolean {
    return this._chart.paused;
  }

  get selectionChanged(): ISignal<this, void> {
    return this._selectionChanged;
  }

  togglePause(): void {
    this._chart.paused = !this._chart.paused;
    this._pauseButton.textContent = this._chart.paused
      ? this._options.trans.__('Resume')
      : this._options.trans.__('Pause');
    this._pauseButton.setAttribute('aria-pressed', String(this._chart.paused));
  }

  /**
   * Ticked runs, else every run of the notebook (by id: the kernel may know the notebook by
   * another form of its path); null when there is nothing to export.
   */
  selection(): ISelectionInfo | null {
    const trans = this._options.trans;
    const notebookPath = this._model.scope.notebookPath;
    const oldestFirst = (runs: IRun[]) => [...runs].sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1));
    const ids = this._table.selectedIds;
    if (ids.length > 0) {
      const runs = oldestFirst(ids.map(id => this._model.get(id)).filter((r): r is IRun => !!r));
      return { runIds: ids, runs, notebookPath, description: trans.__('%1 ticked run(s)', ids.length) };
    }
    // Nothing ticked: the finished runs (and the failed ones when the toggle says so), never a running one.
    const runs = oldestFirst(this._model.runs.filter(run => countsByDefault(run.status, this._includeUnfinished)));
    if (runs.length === 0) return null;
    const name = (notebookPath ?? '').split('/').pop() ?? '';
    return {
      runIds: runs.map(run => run.id),
      runs,
      notebookPath,
      description: this._includeUnfinished
        ? trans.__('the %1 finished, failed or interrupted run(s) of %2', runs.length, name)
        : trans.__('the %1 finished run(s) of %2', runs.length, name),
    };
  }

  /** Whether failed and interrupted runs count in the totals and default exports. */
  get includeUnfinished(): boolean {
    return this._includeUnfinished;
  }

  set includeUnfinished(value: boolean) {
    this._includeUnfinished = value;
    this._includeBox.checked = value;
    this._table.includeUnfinished = value;
    this._scheduleTotals();
    this._selectionChanged.emit();
  }

  get uploads(): UploadsView {
    return this._uploads;
  }

  /** Shows a run's detail and scrolls its notebook to its cell. */
  activateRun(id: string): void {
    const run = this._model.get(id);
    if (!run) return;
    this._table.activeId = id;
    this._detail.render(run);
    if (run.cellId) this._scrollToCell(run.cellId);
  }

  dispose(): void {
    if (this.isDisposed) return;
    Signal.clearData(this);
    super.dispose();
  }

  /** What a run is called: `--label` as the sidecar knows it, else the first line of the cell's body, else its id. */
  labelOf(run: IRun): string {
    return this._labelOf(run);
  }

  private _labelOf(run: IRun): string {
    if (run.label?.trim()) return run.label.trim();
    if (run.cellId !== null) {
      if (this._cellLabels === null) this._cellLabels = this._readCellLabels();
      const label = this._cellLabels.get(run.cellId);
      if (label) return label;
    }
    return run.id;
  }

  private _readCellLabels(): Map<string, string> {
    const labels = new Map<string, string>();
    for (const cell of this._notebook?.content.widgets ?? []) {
      const info = pnavCellInfo(cell.model.sharedModel.getSource());
      if (info?.label) labels.set(cell.model.id, info.label);
    }
    return labels;
  }

  private _title(): Widget {
    const widget = new Widget({ node: document.createElement('h2') });
    widget.addClass('jp-pnav-Title');
    widget.node.textContent = this._options.trans.__('PNAV Lab · energy and CO₂');
    return widget;
  }

  private _includeToggle(): Widget {
    const trans = this._options.trans;
    const widget = new Widget({ node: document.createElement('label') });
    widget.addClass('jp-pnav-IncludeToggle');
    this._includeBox = document.createElement('input');
    this._includeBox.type = 'checkbox';
    this._includeBox.addEventListener('change', () => {
      this.includeUnfinished = this._includeBox.checked;
    });
    widget.node.append(this._includeBox, trans.__('Count failed and interrupted runs'));
    widget.node.title = trans.__(
      'They measured part of a workload: by default they are left out of the totals and of exports and uploads when no run is ticked.',
    );
    return widget;
  }

  private _chartControls(): Widget {
    const trans = this._options.trans;
    const bar = new Widget();
    bar.addClass('jp-pnav-ChartControls');
    const title = document.createElement('h3');
    title.textContent = trans.__('Power (W)');
    this._pauseButton = document.createElement('button');
    this._pauseButton.className = 'jp-Button jp-mod-styled jp-mod-reject jp-pnav-Pause';
    this._pauseButton.textContent = trans.__('Pause');
    this._pauseButton.setAttribute('aria-pressed', 'false');
    this._pauseButton.addEventListener('click', () => this.togglePause());
    const rateLabel = document.createElement('label');
    rateLabel.textContent = trans.__('Refresh');
    this._rate = document.createElement('select');
    this._rate.className = 'jp-pnav-Rate';
    this._rate.setAttribute('aria-label', trans.__('Chart refresh rate'));
    for (const ms of RATES_MS) {
      this._rate.appendChild(
        new Option(ms === 0 ? trans.__('every sample') : trans.__('every %1 s', ms / 1000), String(ms)),
      );
    }
    this._rate.addEventListener('change', () => {
      this._chart.refreshMs = Number(this._rate.value);
    });
    rateLabel.appendChild(this._rate);
    bar.node.append(title, this._pauseButton, rateLabel);
    return bar;
  }

  private _sectionTitle(text: string): Widget {
    const widget = new Widget({ node: document.createElement('h3') });
    widget.addClass('jp-pnav-SectionTitle');
    widget.node.textContent = text;
    return widget;
  }

  private _actions(): Widget {
    const { trans, commands, commandIds } = this._options;
    const bar = new Widget();
    bar.addClass('jp-pnav-Actions');
    bar.node.setAttribute('role', 'toolbar');
    bar.node.setAttribute('aria-label', trans.__('Export and upload'));
    const buttons: [string, string][] = [
      [commandIds.exportCsv, trans.__('CSV')],
      [commandIds.exportJson, trans.__('JSON')],
      [commandIds.exportBoamps, trans.__('BoAmps')],
      [commandIds.upload, trans.__('Upload to PNAV…')],
    ];
    const label = document.createElement('span');
    label.textContent = trans.__('Export:');
    bar.node.appendChild(label);
    for (const [id, text] of buttons) {
      const button = document.createElement('button');
      button.className = 'jp-Button jp-mod-styled jp-mod-reject';
      button.dataset.command = id;
      button.textContent = text;
      button.title = commands.label(id);
      button.addEventListener('click', () => {
        commands.execute(id).catch(error => console.warn(`PNAV Lab: ${id} failed.`, error));
      });
      bar.node.appendChild(button);
    }
    return bar;
  }

  private _applySettings(): void {
    const current = this._options.settings.current;
    this._chart.windowS = current.chartWindowS;
    this._chart.refreshMs = current.chartRefreshMs;
    if (this._rate && RATES_MS.includes(current.chartRefreshMs)) this._rate.value = String(current.chartRefreshMs);
    this._table.units = current;
    this._detail.units = current;
    this._scheduleTotals();
  }

  private _follow(panel: NotebookPanel | null): void {
    this._notebook?.sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
    this._notebook?.model?.contentChanged.disconnect(this._onContentChanged, this);
    this._notebook = panel;
    this._cellLabels = null;
    if (!panel) {
      this._setScope(null, null);
      return;
    }
    panel.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    panel.context.ready.then(() => {
      panel.model?.contentChanged.connect(this._onContentChanged, this);
      if (this._notebook === panel) {
        this._setScope(panel.context.path, panel.sessionContext.session?.kernel?.id ?? null);
      }
    });
  }

  /** Cell labels are re-read lazily after an edit. */
  private _onContentChanged(): void {
    this._cellLabels = null;
  }

  private _onKernelChanged(): void {
    const panel = this._notebook;
    if (panel) this._setScope(panel.context.path, panel.sessionContext.session?.kernel?.id ?? null);
  }

  private _setScope(notebookPath: string | null, kernelId: string | null): void {
    const scope = this._model.scope;
    if (scope.notebookPath === notebookPath && scope.kernelId === kernelId) return;
    this._model.setScope({ notebookPath, kernelId, serverRoot: PageConfig.getOption('serverRoot') || null });
    this._detail.render(null);
    this._uploads.refresh();
    this._loadRuns();
  }

  private _loadRuns(): void {
    const { notebookPath, kernelId } = this._model.scope;
    if (notebookPath === null && kernelId === null) return;
    const settings = this._options.stream.serverSettings;
    const query = (key: string, value: string) =>
      requestAPI<{ runs: IRun[] }>(`runs?${key}=${encodeURIComponent(value)}&limit=${RUNS_LIMIT}`, {}, settings);
    const paths = notebookPath ? pathCandidates(notebookPath, this._model.scope.serverRoot ?? null) : [];
    const requests = [
      ...paths.map(path => query('notebookPath', path)),
      ...(kernelId ? [query('kernelId', kernelId)] : []),
    ];
    const generation = ++this._loadGeneration;
    Promise.all(requests)
      .then(answers => {
        if (generation !== this._loadGeneration) return;
        const merged = new Map<string, IRun>();
        for (const answer of answers) for (const run of answer.runs) merged.set(run.id, run);
        this._model.reset([...merged.values()]);
        this._loadError = null;
        this._scheduleTotals();
      })
      .catch(error => {
        this._loadError = errorMessage(error);
        this._scheduleTotals();
      });
  }

  private _loadDoctor(): void {
    requestAPI<IDoctor>('doctor', {}, this._options.stream.serverSettings)
      .then(doctor => {
        this._header.sources = doctor.sources;
      })
      .catch(() => undefined);
  }

  private _onRun(_: SidecarStream, { run }: IRunEventArgs): void {
    if (!this._model.upsert(run)) return;
    if (this._detail.runId === run.id && this._detailFrame === null) {
      this._detailFrame = requestAnimationFrame(() => {
        this._detailFrame = null;
        const latest = this._detail.runId ? this._model.get(this._detail.runId) : undefined;
        if (latest) this._detail.render(latest);
      });
    }
  }

  private _scheduleTotals(): void {
    if (this._totalsFrame !== null) return;
    this._totalsFrame = requestAnimationFrame(() => {
      this._totalsFrame = null;
      this._renderTotals();
    });
  }

  private _renderTotals(): void {
    const trans = this._options.trans;
    const node = this._totals.node;
    const { energyUnit, emissionsUnit } = this._options.settings.current;
    if (this._loadError) {
      node.textContent = trans.__('Could not load the runs: %1', this._loadError);
      return;
    }
    if (this._model.scope.notebookPath === null && this._model.scope.kernelId === null) {
      node.textContent = trans.__('Open a notebook to see its runs.');
      return;
    }
    const counted = this._model.runs.filter(run => countsByDefault(run.status, this._includeUnfinished));
    const totals = this._model.totals(counted.map(run => run.id));
    const left = this._model.size - counted.length;
    node.textContent = trans.__(
      '%1 run(s) · %2 · %3 · %4',
      totals.count,
      formatEnergy(totals.energyJ, energyUnit),
      formatEmissions(totals.emissionsG, emissionsUnit),
      formatDuration(totals.durationS),
    );
    if (left > 0) {
      const note = document.createElement('div');
      note.className = 'jp-pnav-RunMeta jp-pnav-TotalsNote';
      note.textContent = trans.__('%1 more not counted (running, failed or interrupted)', left);
      node.appendChild(note);
    }
    this._header.kernelShare = this._model.runs.find(run => run.attribution !== null)?.attribution?.share ?? null;
    node.title = totals.allMeasured
      ? trans.__('Every figure read from hardware counters.')
      : trans.__('Some figures are estimates: see the methods per run.');
  }

  private _scrollToCell(cellId: string): void {
    const { tracker } = this._options;
    let target: NotebookPanel | null = null;
    let index = -1;
    tracker.forEach(panel => {
      if (target) return;
      const at = panel.content.widgets.findIndex(cell => cell.model.id === cellId);
      if (at >= 0) {
        target = panel;
        index = at;
      }
    });
    const panel = target as NotebookPanel | null;
    if (!panel) return;
    panel.content.activeCellIndex = index;
    panel.content.scrollToItem(index, 'center').catch(() => undefined);
    const cell = panel.content.widgets[index];
    cell.node.classList.add('jp-pnav-flash');
    setTimeout(() => cell.node.classList.remove('jp-pnav-flash'), 1200);
  }

  private _model = new RunsModel();
  private _header: HeaderView;
  private _chart: PowerChart;
  private _table: RunsTable;
  private _detail: RunDetail;
  private _uploads: UploadsView;
  private _totals: Widget;
  private _pauseButton!: HTMLButtonElement;
  private _rate!: HTMLSelectElement;
  private _notebook: NotebookPanel | null = null;
  private _cellLabels: Map<string, string> | null = null;
  private _loadGeneration = 0;
  private _loadError: string | null = null;
  private _detailFrame: number | null = null;
  private _totalsFrame: number | null = null;
  private _selectionChanged = new Signal<this, void>(this);
  private _includeUnfinished = false;
  private _includeBox!: HTMLInputElement;
}

/** Components with a source in use on this machine (a GPU-less machine has no GPU line or legend). */
function presentComponents(status: IStatus): Component[] {
  return COMPONENTS.filter(c => status.sources.some(s => s.component === c && s.available && s.method !== 'none'));
}
