/**
 * The runs of one notebook, keyed by id, newest first, with totals.
 *
 * Fed by a full list (`GET /runs`) and then by stream events; emits which
 * rows changed so the table updates only those.
 */
import { type ISignal, Signal } from '@lumino/signaling';
import { isSameNotebook } from './notebookPath';
import type { IRun } from './types';

export interface IRunsScope {
  /** The notebook's path relative to the server root, as JupyterLab knows it. */
  notebookPath: string | null;
  kernelId: string | null;
  /** The server's root directory, to recognise the absolute paths kernels report. */
  serverRoot?: string | null;
}

export type RunsChange = { kind: 'reset' } | { kind: 'upsert'; id: string; added: boolean };

export interface IRunsTotals {
  count: number;
  open: number;
  /** Facility energy (× PUE). */
  energyJ: number;
  emissionsG: number;
  durationS: number;
  /** True when every run's figures came from hardware counters. */
  allMeasured: boolean;
}

function newestFirst(a: IRun, b: IRun): number {
  if (a.startedAt !== b.startedAt) {
    return a.startedAt < b.startedAt ? 1 : -1;
  }
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class RunsModel {
  get changed(): ISignal<this, RunsChange> {
    return this._changed;
  }

  get scope(): IRunsScope {
    return this._scope;
  }

  /** Runs in display order (newest first). */
  get runs(): readonly IRun[] {
    if (this._order === null) {
      this._order = [...this._runs.values()].sort(newestFirst);
    }
    return this._order;
  }

  get size(): number {
    return this._runs.size;
  }

  get(id: string): IRun | undefined {
    return this._runs.get(id);
  }

  /** Whether a run belongs to the scoped notebook: the same notebook path (either form), else the same kernel. */
  accepts(run: IRun): boolean {
    const { notebookPath, kernelId, serverRoot } = this._scope;
    if (notebookPath !== null && run.notebookPath !== null) {
      return isSameNotebook(run.notebookPath, notebookPath, serverRoot ?? null);
    }
    return kernelId !== null && run.kernelId === kernelId;
  }

  /** Switches to another notebook and drops the runs of the previous one. */
  setScope(scope: IRunsScope): void {
    this._scope = { ...scope };
    this._runs.clear();
    this._order = null;
    this._changed.emit({ kind: 'reset' });
  }

  /** Replaces every run (after a full fetch); runs outside the scope are ignored. */
  reset(runs: IRun[]): void {
    this._runs.clear();
    for (const run of runs) {
      if (this.accepts(run)) {
        this._runs.set(run.id, run);
      }
    }
    this._order = null;
    this._changed.emit({ kind: 'reset' });
  }

  /** Adds or replaces one run; returns false when it is outside the scope. */
  upsert(run: IRun): boolean {
    if (!this.accepts(run)) {
      return false;
    }
    const previous = this._runs.get(run.id);
    this._runs.set(run.id, run);
    if (!previous || previous.startedAt !== run.startedAt) {
      this._order = null;
    } else if (this._order !== null) {
      const at = this._order.indexOf(previous);
      if (at >= 0) this._order[at] = run;
    }
    this._changed.emit({ kind: 'upsert', id: run.id, added: !previous });
    return true;
  }

  totals(ids?: Iterable<string>): IRunsTotals {
    const runs = ids ? [...ids].map(id => this._runs.get(id)).filter((r): r is IRun => !!r) : this.runs;
    const totals: IRunsTotals = { count: 0, open: 0, energyJ: 0, emissionsG: 0, durationS: 0, allMeasured: true };
    for (const run of runs) {
      totals.count++;
      if (run.status === 'open') totals.open++;
      totals.energyJ += run.facilityEnergyJ;
      totals.emissionsG += run.emissionsG;
      totals.durationS += run.durationS;
      totals.allMeasured &&= run.quality === 'measured';
    }
    return totals;
  }

  private _scope: IRunsScope = { notebookPath: null, kernelId: null };
  private _runs = new Map<string, IRun>();
  private _order: IRun[] | null = null;
  private _changed = new Signal<this, RunsChange>(this);
}
