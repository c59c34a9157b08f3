/**
 * The run ledger: runs and epochs open and close on request, each reading every power source
 * at that instant. Many runs may be open at once; each reports the machine's energy in its
 * window ('machine' scope), plus the kernel's attributed share per component (CPU time, GPU use,
 * resident memory) when it gave its pid. A close reads every counter first and only then asks
 * the slower process lists (nvidia-smi), so the window ends when the close arrives.
 * Open runs are checkpointed to the store so a crash keeps their energy up to the checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import type {
  CloseEpochRequestSchema,
  CloseRunRequest,
  Component,
  CountBatchesRequestSchema,
  Epoch,
  OpenEpochRequestSchema,
  OpenRunRequest,
  PatchRunRequestSchema,
  Run,
  RunStatus,
  TypeProcess,
} from '../api/schemas.js';
import { COMPONENTS } from '../api/schemas.js';
import type { FactorsName } from '../carbon/pnav-factors.js';
import type { ByProcessGpuScope } from '../power/gpu/by-process.js';
import {
  attributeWindow,
  type ComponentShares,
  type GpuUse,
  type KernelSnapshot,
  kernelSnapshot,
  ProcReader,
} from '../power/host/process-shares.js';
import { deviceWindowJ, type Meter, type MeterReading } from '../power/meter.js';
import { type SettingsContext, settingsForOpenRun } from '../settings/apply.js';
import type { OpenRunCheckpoint, OpenRunCheckpoints } from '../store/open-run-checkpoints.js';
import type { RunStore } from '../store/run-store.js';
import { byIso } from '../util/iso-order.js';
import type { Carbon } from './carbon-port.js';
import {
  addCarried,
  type ComponentProvenance,
  quality,
  sizeBucket,
  storedSourceFacts,
  type WindowFigures,
  windowFigures,
  zeroBreakdown,
} from './figures.js';
import { type OpenRunBrief, processStartTicks } from './reaper.js';

/** A close without a process list this recent asks the driver for one (after reading the counters). */
const GPU_USE_MAX_AGE_MS = 30_000;
/** A run that opens starts a process-list query when the latest is older than this (never waits for it). */
const GPU_USE_REFRESH_MS = 5_000;

/** 'progress' events are produced by the sampler from progressRuns(), not emitted here. */
export type RunEvent = 'opened' | 'progress' | 'epoch' | 'closed' | 'updated';

export class LedgerError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'too_many_open_runs',
    message: string,
    /** For too_many_open_runs: when a retry may succeed. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface LedgerDefaults {
  pue: number;
  /** --country / configuration. */
  country?: string;
  /** PNAV_COUNTRY of the sidecar's environment (a run's own env wins). */
  envCountry?: string;
  timeZone?: string;
  typeRam: Run['typeRam'];
  /** Emission factors when neither the request nor the settings name them (default 'pnav'). */
  factors?: FactorsName;
}

export interface LedgerDeps {
  store: RunStore;
  meter: Meter;
  carbon: Carbon;
  scope: { kind: string; detail: string };
  procRoot: string;
  defaults: LedgerDefaults;
  /** Configuration files, env and sidecar flags (settings/); without it requests are taken as they are. */
  settings?: SettingsContext;
  /** GPUs of runs in gpu_mode 'by-process', and the GPU processes behind every run's GPU share (nvidia-smi). */
  gpuByProcess?: ByProcessGpuScope;
  /** Each chosen source's basis (its probe detail) and what it covers, for every figure's provenance. */
  provenance?: (c: Component) => ComponentProvenance | undefined;
  /** Open runs' recovery data (a crash keeps their energy up to the last checkpoint); none: runs only. */
  checkpoints?: OpenRunCheckpoints;
  limits?: OpenRunLimits;
  log?: (msg: string) => void;
}

/** Caps that keep a runaway client (a loop opening runs it never closes) from exhausting the sidecar. */
export interface OpenRunLimits {
  maxOpenRuns: number;
  /** Per kernel id, else per pid; runs with neither only count towards maxOpenRuns. */
  maxOpenRunsPerKernel: number;
}

export interface ListFilter {
  notebookPath?: string;
  kernelId?: string;
  status?: RunStatus;
  runIds?: string[];
  typeProcess?: TypeProcess | string;
  limit?: number;
}

interface OpenEpochState {
  index: number;
  start: MeterReading;
  batchesAtStart: number;
}

interface OpenRunState {
  start: MeterReading;
  kernelStart: KernelSnapshot | null;
  /** The latest per-component shares; live figures between attributions reuse them. */
  lastShares: ComponentShares | null;
  /** What the run's GPU figure covers (the MIG note, or why every GPU counts). */
  gpuScope: string | null;
  epoch: OpenEpochState | null;
  nEpochGiven: boolean;
  nBatchGiven: boolean;
  /** Figures from before a sidecar restart this run survived. */
  carried: OpenRunCheckpoint['carried'];
  /** What is stored for a crash; rewritten only when something other than energy changes. */
  checkpoint: OpenRunCheckpoint;
  kernelKey: string | null;
}

/** Which kernel a run counts against for maxOpenRunsPerKernel. */
function kernelKeyOf(run: Pick<Run, 'kernelId' | 'pid'>): string | null {
  if (run.kernelId) return `kernel:${run.kernelId}`;
  return run.pid ? `pid:${run.pid}` : null;
}

/** A reading as stored: the power figures are not needed to recompute energy. */
function storedReading(reading: MeterReading): OpenRunCheckpoint['start'] {
  const components: OpenRunCheckpoint['start']['components'] = {};
  for (const c of COMPONENTS) {
    const r = reading.components[c];
    if (r)
      components[c] = {
        energyJ: r.energyJ,
        powerW: null,
        devices: r.devices.map(d => ({ deviceId: d.deviceId, energyJ: d.energyJ, powerW: null })),
      };
  }
  return { monoMs: reading.monoMs, wallMs: reading.wallMs, components };
}

/** Shares that moved less than this are not worth a write: the attribution changes by < 1 %. */
const SHARE_CHANGE_WORTH_SAVING = 0.01;

function sharesMoved(a: ComponentShares | null, b: ComponentShares | null): boolean {
  if (!a || !b) return a !== b;
  return COMPONENTS.some(
    c => Math.abs(a[c].share - b[c].share) >= SHARE_CHANGE_WORTH_SAVING || a[c].basis !== b[c].basis,
  );
}

const INTERRUPTED_ERROR = 'the sidecar stopped before this run closed; energy is counted up to its last checkpoint';
/** A limit reached is lifted by a close; a client retrying sooner than this would only be refused again. */
const RETRY_AFTER_S = 5;

export class Ledger {
  private readonly runs = new Map<string, Run>();
  private readonly open = new Map<string, OpenRunState>();
  private readonly openPerKernel = new Map<string, number>();
  /** Tells this process's meter readings apart from those of a sidecar that ran before. */
  private readonly session = randomUUID();
  private checkpointFailed = false;
  private briefCache: OpenRunBrief[] | null = null;
  private readonly listeners = new Set<(event: RunEvent, run: Run) => void>();
  private readonly proc: ProcReader;
  private readonly log: (msg: string) => void;

  constructor(private readonly deps: LedgerDeps) {
    this.proc = new ProcReader(deps.procRoot);
    this.log = deps.log ?? (() => {});
  }

  /**
   * Loads stored runs. A run that was open when the sidecar died gets its energy up to the last
   * checkpoint; if its kernel is still the same live process, it continues (the gap since that
   * checkpoint is counted as unmeasured), else it comes back `interrupted`. Returns how many
   * were interrupted.
   */
  async load(): Promise<number> {
    const stored = this.deps.store.open().sort((a, b) => byIso(a.startedAt, b.startedAt));
    const checkpoints = this.deps.checkpoints;
    checkpoints?.open();
    const meter = checkpoints?.meter();
    let now: MeterReading | null = null; // read only when a run continues: it is the start of its new window
    const changed: Run[] = [];
    let interrupted = 0;
    for (const run of stored) {
      this.runs.set(run.id, run);
      if (run.status !== 'open') continue;
      const checkpoint = checkpoints?.run(run.id);
      if (checkpoint && meter && checkpoint.session === meter.session)
        this.recoverFigures(run, checkpoint, meter.reading);
      changed.push(run);
      if (checkpoint && this.kernelStillRuns(run, checkpoint)) {
        now ??= this.deps.meter.read();
        this.resume(run, checkpoint, now);
      } else {
        this.interrupt(run);
        interrupted++;
      }
    }
    for (const run of changed) void this.deps.store.put(run);
    if (changed.length > 0) await this.deps.store.flush(); // one fdatasync for all of them
    checkpoints?.retain(new Set(this.open.keys()));
    if (interrupted > 0) this.log(`recovered ${interrupted} interrupted run(s)`);
    if (this.open.size > 0) this.log(`${this.open.size} run(s) continue after the restart: their kernels still run`);
    return interrupted;
  }

  /** The run's figures at the checkpoint reading: counters are cumulative, so end - start is its energy. */
  private recoverFigures(run: Run, checkpoint: OpenRunCheckpoint, end: MeterReading): void {
    if (end.monoMs < checkpoint.start.monoMs) return; // opened after the last checkpoint: nothing measured is kept
    const figures = addCarried(this.storedWindow(run, checkpoint.start, end), checkpoint.carried);
    run.durationS = figures.durationS;
    run.energy = figures.energy;
    run.energyJ = figures.energyJ;
    run.facilityEnergyJ = figures.energyJ * run.pue;
    run.emissionsG = this.deps.carbon.emissionsG(run.facilityEnergyJ, run.location);
    run.windowQuality = figures.windowQuality;
    run.checkpointAt = new Date(end.wallMs).toISOString();
    if (checkpoint.shares) run.attribution = this.attribution(run, checkpoint.shares as ComponentShares, figures);
    const open = checkpoint.epoch;
    const epoch = open && run.epochs.find(e => e.index === open.index && e.status === 'open');
    if (open && epoch && end.monoMs >= open.start.monoMs) {
      const f = this.storedWindow(run, open.start, end);
      epoch.windowQuality = f.windowQuality;
      epoch.durationS = f.durationS;
      epoch.energy = f.energy;
      epoch.energyJ = f.energyJ;
      epoch.facilityEnergyJ = f.energyJ * run.pue;
      epoch.emissionsG = this.deps.carbon.emissionsG(epoch.facilityEnergyJ, run.location);
      epoch.nBatch = run.batchesCounted - open.batchesAtStart;
    }
  }

  /** A window of a stored run, with the sources as its breakdown recorded them. */
  private storedWindow(run: Run, start: MeterReading, end: MeterReading): WindowFigures {
    return windowFigures(start, end, {
      sourceOf: storedSourceFacts(run.energy),
      included: run.components,
      gpuIds: run.gpuIds,
    });
  }

  /** The run's kernel is the very process that opened it (not a reused pid). */
  private kernelStillRuns(run: Run, checkpoint: OpenRunCheckpoint): boolean {
    if (!run.pid || checkpoint.pidStartTicks === null) return false;
    return processStartTicks(this.deps.procRoot, run.pid) === checkpoint.pidStartTicks;
  }

  private interrupt(run: Run): void {
    run.status = 'interrupted';
    run.endedAt = run.checkpointAt ?? run.startedAt;
    run.error = INTERRUPTED_ERROR;
    for (const epoch of run.epochs) {
      if (epoch.status === 'open') {
        epoch.status = 'interrupted';
        epoch.endedAt = run.endedAt;
      }
    }
  }

  /**
   * Keeps a run open across a sidecar restart: what it measured so far is carried, a new window
   * starts now, and the time since the last checkpoint is counted in its duration as unmeasured.
   * An epoch open at the crash ends as interrupted at the checkpoint.
   */
  private resume(run: Run, checkpoint: OpenRunCheckpoint, now: MeterReading): void {
    const lastMs = Date.parse(run.checkpointAt ?? run.startedAt);
    const gapS = Math.max(0, (now.wallMs - lastMs) / 1000);
    for (const epoch of run.epochs) {
      if (epoch.status === 'open') {
        epoch.status = 'interrupted';
        epoch.endedAt = run.checkpointAt ?? run.startedAt;
      }
    }
    const energyJ: Record<string, number> = {};
    for (const [c, e] of Object.entries(run.energy)) energyJ[c] = e.energyJ;
    const carried: NonNullable<OpenRunCheckpoint['carried']> = {
      durationS: run.durationS + gapS,
      energyJ,
      unmeasuredS: (checkpoint.carried?.unmeasuredS ?? 0) + gapS,
      restarts: (checkpoint.carried?.restarts ?? 0) + 1,
    };
    run.durationS = carried.durationS;
    run.sidecarRestarts = { count: carried.restarts, unmeasuredS: carried.unmeasuredS };
    run.checkpointAt = new Date(now.wallMs).toISOString();
    const next: OpenRunCheckpoint = {
      ...checkpoint,
      session: this.session,
      start: storedReading(now),
      epoch: null,
      carried,
    };
    this.register(run, {
      start: now,
      // /proc's counters outlive the sidecar: the kernel's share still runs from the run's start.
      kernelStart: (checkpoint.kernelStart as KernelSnapshot | null) ?? null,
      lastShares: (checkpoint.shares as ComponentShares | null) ?? null,
      gpuScope: checkpoint.gpuScope ?? this.deps.provenance?.('gpu')?.scope ?? null,
      epoch: null,
      nEpochGiven: checkpoint.nEpochGiven ?? false,
      nBatchGiven: checkpoint.nBatchGiven ?? false,
      carried,
      checkpoint: next,
      kernelKey: kernelKeyOf(run),
    });
    this.saveCheckpoint(run.id, next);
    this.log(
      `run ${run.id} continues after the restart (kernel pid ${run.pid}); ${gapS.toFixed(1)} s since its last checkpoint are not measured`,
    );
  }

  private register(run: Run, state: OpenRunState): void {
    this.open.set(run.id, state);
    this.briefCache = null;
    if (state.kernelKey) this.openPerKernel.set(state.kernelKey, (this.openPerKernel.get(state.kernelKey) ?? 0) + 1);
  }

  private unregister(id: string): void {
    const state = this.open.get(id);
    if (!state) return;
    this.open.delete(id);
    this.briefCache = null;
    if (state.kernelKey) {
      const n = (this.openPerKernel.get(state.kernelKey) ?? 1) - 1;
      if (n <= 0) this.openPerKernel.delete(state.kernelKey);
      else this.openPerKernel.set(state.kernelKey, n);
    }
  }

  /** Recovery data is a best effort next to the run itself: a failed write is logged once, not fatal. */
  private saveCheckpoint(id: string, checkpoint: OpenRunCheckpoint | null): void {
    const checkpoints = this.deps.checkpoints;
    if (!checkpoints) return;
    try {
      if (checkpoint) checkpoints.putRun(id, checkpoint);
      else checkpoints.deleteRun(id);
    } catch (err) {
      this.noteCheckpointFailure(err);
    }
  }

  private noteCheckpointFailure(err: unknown): void {
    if (!this.checkpointFailed) this.log(`store: checkpoint failed: ${(err as Error).message}`);
    this.checkpointFailed = true;
  }

  onEvent(listener: (event: RunEvent, run: Run) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get openCount(): number {
    return this.open.size;
  }

  /** `explicit`: the keys the client sent, so schema defaults (typeProcess) do not hide configured values. */
  openRun(req: OpenRunRequest, explicit?: ReadonlySet<string>): Run {
    if (req.id !== undefined && this.runs.has(req.id))
      throw new LedgerError('conflict', `run ${req.id} already exists; a client-chosen id must be new`);
    // Fields the request left unset come from the settings, each with its source.
    const applied = this.deps.settings ? settingsForOpenRun(req, { ...this.deps.settings, explicit }).applied : null;
    if (applied) req = applied;
    const kernelKey = kernelKeyOf({ kernelId: req.kernelId ?? null, pid: req.pid ?? null });
    this.checkLimits(kernelKey);
    const reading = this.deps.meter.read();
    const components: Component[] = req.components ?? ['cpu', 'gpu', 'ram'];
    const startedAt = new Date(reading.wallMs).toISOString();
    const model = req.model ?? { framework: 'unknown', nParameters: 0, nFeatures: 0 };
    const location = this.deps.carbon.resolveLocation({
      country: req.country,
      region: req.region,
      cloudProvider: req.cloudProvider,
      cloudRegion: req.cloudRegion,
      configCountry: applied ? applied.configCountry : this.deps.defaults.country,
      envCountry: applied ? applied.envCountry : (req.env?.PNAV_COUNTRY ?? this.deps.defaults.envCountry),
      timeZone: this.deps.defaults.timeZone,
      factors: req.factors ?? this.deps.defaults.factors,
    });
    const run: Run = {
      id: req.id ?? randomUUID(),
      kind: req.kind,
      status: 'open',
      kernelId: req.kernelId ?? null,
      notebookPath: req.notebookPath ?? null,
      cellId: req.cellId ?? null,
      executionCount: req.executionCount ?? null,
      pid: req.pid ?? null,
      label: req.label ?? null,
      labels: req.labels ?? {},
      typeProcess: req.typeProcess,
      nEpoch: req.nEpoch ?? 0,
      nBatch: req.nBatch ?? 0,
      batchesCounted: 0,
      modelId: req.modelId ?? null,
      model: {
        framework: model.framework,
        nParameters: model.nParameters,
        nFeatures: model.nFeatures,
        sizeBucket: sizeBucket(model.nParameters),
        name: model.name ?? null,
      },
      location,
      pue: req.pue ?? this.deps.defaults.pue,
      ...(req.pue !== undefined && req.pueIsInt && Number.isInteger(req.pue) && { pueIsInt: true }),
      typeRam: req.typeRam ?? this.deps.defaults.typeRam,
      components,
      gpuIds: req.gpuIds ?? null,
      scope: this.deps.scope,
      startedAt,
      endedAt: null,
      durationS: 0,
      energy: zeroBreakdown(c => this.deps.meter.source(c), components),
      energyJ: 0,
      facilityEnergyJ: 0,
      emissionsG: 0,
      quality: 'estimated',
      windowQuality: 'fine',
      energyScope: 'machine',
      degraded: null,
      attribution: null,
      epochs: [],
      error: null,
      client: {
        os: req.client?.os ?? null,
        pythonVersion: req.client?.pythonVersion ?? null,
        tool: req.client?.tool ?? null,
        utcOffsetMin: req.client?.utcOffsetMin ?? null,
      },
      checkpointAt: startedAt,
      ...(applied && { settingsSources: applied.settingsSources, outputDir: applied.outputDir }),
    };
    run.quality = quality(run.energy);
    const kernelStart = req.pid ? kernelSnapshot(this.proc, req.pid) : null;
    run.attribution = kernelStart ? { method: 'per-component', share: 0, energyJ: 0, facilityEnergyJ: 0 } : null;
    // The GPU share needs the driver's process list: start one now so the close finds it fresh.
    if (kernelStart && this.hasGpu(components)) this.deps.gpuByProcess?.refreshIfStale(GPU_USE_REFRESH_MS);
    const gpuScope = applied?.gpuScope ?? this.deps.provenance?.('gpu')?.scope ?? null;
    const nEpochGiven = req.nEpoch !== undefined;
    const nBatchGiven = req.nBatch !== undefined;
    const checkpoint: OpenRunCheckpoint = {
      session: this.session,
      start: storedReading(reading),
      pidStartTicks: req.pid ? processStartTicks(this.deps.procRoot, req.pid) : null,
      kernelStart,
      shares: null,
      gpuScope,
      epoch: null,
      carried: null,
      nEpochGiven,
      nBatchGiven,
    };
    // Stored first: a write that fails (disk full) throws here, and a run the client got an
    // error for must not be registered, or the next checkpoint would store it after all.
    void this.deps.store.put(run);
    this.saveCheckpoint(run.id, checkpoint);
    this.register(run, {
      start: reading,
      kernelStart,
      lastShares: null,
      gpuScope,
      epoch: null,
      nEpochGiven,
      nBatchGiven,
      carried: null,
      checkpoint,
      kernelKey,
    });
    this.runs.set(run.id, run);
    if (applied?.gpuMode === 'by-process' && req.pid) this.deps.gpuByProcess?.track(run.id, req.pid);
    this.emit('opened', run);
    return run;
  }

  private checkLimits(kernelKey: string | null): void {
    const limits = this.deps.limits;
    if (!limits) return;
    if (this.open.size >= limits.maxOpenRuns)
      throw new LedgerError(
        'too_many_open_runs',
        `${this.open.size} runs are open, the most this sidecar keeps (--max-open-runs ${limits.maxOpenRuns}); close some first`,
        RETRY_AFTER_S,
      );
    if (kernelKey && (this.openPerKernel.get(kernelKey) ?? 0) >= limits.maxOpenRunsPerKernel)
      throw new LedgerError(
        'too_many_open_runs',
        `this kernel has ${limits.maxOpenRunsPerKernel} runs open, the most one kernel may (--max-open-runs-per-kernel); close some first`,
        RETRY_AFTER_S,
      );
  }

  /**
   * Open runs as the reaper needs them, without computing their figures; rebuilt only when runs
   * open or close, so a sweep each second over 50,000 open runs allocates nothing.
   */
  openRunsBrief(): readonly OpenRunBrief[] {
    if (this.briefCache) return this.briefCache;
    const out: OpenRunBrief[] = [];
    for (const id of this.open.keys()) {
      const run = this.runs.get(id)!;
      out.push({ id, pid: run.pid, startedMs: Date.parse(run.startedAt) });
    }
    this.briefCache = out;
    return out;
  }

  /** The run with live figures when it is open. */
  get(id: string): Run | undefined {
    const run = this.runs.get(id);
    if (!run) return undefined;
    if (this.open.has(id)) this.refresh(run, this.deps.meter.read(), true);
    return run;
  }

  /** Newest first. Open runs carry live figures. */
  list(filter: ListFilter = {}): Run[] {
    const out: Run[] = [];
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    const ids = filter.runIds ? new Set(filter.runIds) : null;
    const all = [...this.runs.values()];
    let reading: MeterReading | null = null;
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const run = all[i]!;
      if (ids && !ids.has(run.id)) continue;
      if (filter.notebookPath !== undefined && run.notebookPath !== filter.notebookPath) continue;
      if (filter.kernelId !== undefined && run.kernelId !== filter.kernelId) continue;
      if (filter.status !== undefined && run.status !== filter.status) continue;
      if (filter.typeProcess !== undefined && run.typeProcess !== filter.typeProcess) continue;
      if (this.open.has(run.id)) {
        reading ??= this.deps.meter.read();
        this.refresh(run, reading, false);
      }
      out.push(run);
    }
    return out;
  }

  patch(id: string, req: z.infer<typeof PatchRunRequestSchema>): Run {
    const run = this.require(id);
    const state = this.open.get(id);
    this.commit(run, { durable: !state }, draft => {
      if (req.label !== undefined) draft.label = req.label;
      if (req.nEpoch !== undefined) draft.nEpoch = req.nEpoch;
      if (req.nBatch !== undefined) draft.nBatch = req.nBatch;
      if (req.modelId !== undefined) draft.modelId = req.modelId;
      if (req.model) this.setModel(draft, req.model);
    });
    if (state && (req.nEpoch !== undefined || req.nBatch !== undefined)) {
      if (req.nEpoch !== undefined) state.nEpochGiven = true;
      if (req.nBatch !== undefined) state.nBatchGiven = true;
      this.updateCheckpoint(id, state, { nEpochGiven: state.nEpochGiven, nBatchGiven: state.nBatchGiven });
    }
    this.emit('updated', run);
    return run;
  }

  countBatches(id: string, req: z.infer<typeof CountBatchesRequestSchema>): Run {
    const run = this.requireOpen(id, 'count batches of');
    run.batchesCounted += req.n;
    if (!this.open.get(id)!.nBatchGiven) run.nBatch = run.batchesCounted;
    return run;
  }

  openEpoch(id: string, req: z.infer<typeof OpenEpochRequestSchema>): Epoch {
    const run = this.requireOpen(id, 'open an epoch in');
    const state = this.open.get(id)!;
    const reading = this.deps.meter.read();
    const index = req.index ?? (run.epochs.length === 0 ? 0 : Math.max(...run.epochs.map(e => e.index)) + 1);
    if (run.epochs.some(e => e.index === index))
      throw new LedgerError('conflict', `epoch ${index} already exists in run ${id}`);
    const epoch: Epoch = {
      index,
      status: 'open',
      startedAt: new Date(reading.wallMs).toISOString(),
      endedAt: null,
      durationS: 0,
      nBatch: 0,
      energy: zeroBreakdown(c => this.deps.meter.source(c), run.components),
      energyJ: 0,
      facilityEnergyJ: 0,
      emissionsG: 0,
    };
    // Stored before it exists in memory: a write that fails leaves the run as it was.
    this.commit(run, {}, draft => {
      // An epoch left open (an exception in the training loop) ends where the next one starts.
      if (state.epoch) this.finishEpoch(draft, state.epoch, reading, 'ok');
      draft.epochs.push(epoch);
    });
    state.epoch = { index, start: reading, batchesAtStart: run.batchesCounted };
    this.updateCheckpoint(id, state, {
      epoch: { index, start: storedReading(reading), batchesAtStart: run.batchesCounted },
    });
    this.emit('epoch', run);
    return run.epochs.find(e => e.index === index)!;
  }

  closeEpoch(id: string, index: number, req: z.infer<typeof CloseEpochRequestSchema>): Epoch {
    const run = this.require(id);
    const epoch = run.epochs.find(e => e.index === index);
    if (!epoch) throw new LedgerError('not_found', `epoch ${index} not found in run ${id}`);
    const state = this.open.get(id);
    if (epoch.status !== 'open' || !state || state.epoch?.index !== index) return epoch; // closing twice is harmless
    const open = state.epoch;
    const reading = this.deps.meter.read();
    this.commit(run, {}, draft => this.finishEpoch(draft, open, reading, 'ok', req.nBatch));
    state.epoch = null;
    this.updateCheckpoint(id, state, { epoch: null });
    this.emit('epoch', run);
    return run.epochs.find(e => e.index === index)!;
  }

  /**
   * Closes the run with a reading taken now, writes it to the store and starts its fsync.
   * The close exists in memory only once written: a write that fails (disk full: 507) leaves the
   * run open, and a retry closes it then. Closing a closed run returns it unchanged with `alreadyClosed`.
   */
  async closeRun(
    id: string,
    req: CloseRunRequest,
    opts: { csvPending?: (run: Run) => Run['csvPending'] } = {},
  ): Promise<{ run: Run; alreadyClosed: boolean }> {
    const run = this.require(id);
    const state = this.open.get(id);
    if (!state) return { run, alreadyClosed: true };
    // Every counter first: the window ends now, not after the slower queries below.
    const reading = this.deps.meter.read();
    const kernelEnd = run.pid && state.kernelStart ? kernelSnapshot(this.proc, run.pid) : null;
    // A sampled (not counted) GPU source revises both edges from its stream once it has a sample past the end.
    await this.deps.meter.settle([state.start, reading, ...(state.epoch ? [state.epoch.start] : [])]);
    if (this.deps.gpuByProcess?.gpuIds(id)) await this.deps.gpuByProcess.refresh(); // GPUs used up to now count
    const gpuUse = state.kernelStart && this.hasGpu(run.components) ? await this.gpuUse(reading.monoMs) : null;
    if (!this.open.has(id)) return { run, alreadyClosed: true }; // closed meanwhile by another request
    // write(2) happens now (safe from kill -9); the fdatasync follows within 10 ms, shared by the
    // closes of that window (group commit), without holding the reply for it (~1-2 ms on a VM
    // disk): only a power cut within that window could lose the close.
    this.commit(run, { durable: true }, draft => {
      if (state.epoch)
        this.finishEpoch(draft, state.epoch, reading, req.status === 'interrupted' ? 'interrupted' : 'ok');
      if (req.model) this.setModel(draft, req.model);
      if (req.nEpoch !== undefined) draft.nEpoch = req.nEpoch;
      else if (!state.nEpochGiven) draft.nEpoch = draft.epochs.length;
      if (req.nBatch !== undefined) draft.nBatch = req.nBatch;
      this.refresh(draft, reading, true, { kernelEnd, gpuUse });
      draft.status = req.status;
      draft.error = req.error ?? null;
      draft.endedAt = new Date(reading.wallMs).toISOString();
      draft.checkpointAt = null;
      // The CSV row is owed from the same write that records the close: nothing can be lost between them.
      const csvPending = opts.csvPending?.(draft);
      if (csvPending) draft.csvPending = csvPending;
    });
    this.unregister(id);
    this.saveCheckpoint(id, null);
    this.deps.gpuByProcess?.untrack(id);
    this.emit('closed', run);
    return { run, alreadyClosed: false };
  }

  /** The CSV row of this run is on disk: it owes nothing any more (a plain group-commit write). */
  csvWritten(id: string): void {
    const run = this.runs.get(id);
    if (!run?.csvPending) return;
    const { csvPending: _, ...settled } = run;
    try {
      void this.deps.store.put(settled as Run);
    } catch (err) {
      this.log(
        `run ${id}: could not record its CSV row as written (${(err as Error).message}); rewritten at the next start`,
      );
      return;
    }
    delete run.csvPending;
  }

  /** Closed runs whose CSV row was not known to be on disk when the sidecar stopped. */
  owingCsv(): Run[] {
    return [...this.runs.values()].filter(run => run.csvPending && !this.open.has(run.id));
  }

  /**
   * Saves what a crash needs: one meter reading for every open run (their energy is the counters'
   * difference from their start), plus the runs whose attributed shares moved. O(changed runs),
   * not O(open runs), in bytes written.
   */
  checkpoint(reading: MeterReading = this.deps.meter.read()): void {
    try {
      this.deps.checkpoints?.putMeter({ session: this.session, reading: storedReading(reading) });
    } catch (err) {
      this.noteCheckpointFailure(err);
      return;
    }
    const at = new Date(reading.wallMs).toISOString();
    // Many runs of one kernel share its /proc figures: one read per pid and checkpoint.
    const kernels = new Map<number, KernelSnapshot | null>();
    for (const [id, state] of this.open) {
      const run = this.runs.get(id)!;
      run.checkpointAt = at;
      if (!state.kernelStart || !run.pid) continue;
      let kernelEnd = kernels.get(run.pid);
      if (kernelEnd === undefined) {
        kernelEnd = kernelSnapshot(this.proc, run.pid);
        kernels.set(run.pid, kernelEnd);
      }
      this.refresh(run, reading, true, { kernelEnd, gpuUse: this.latestGpuUse(reading) });
      if (sharesMoved(state.lastShares, state.checkpoint.shares as ComponentShares | null))
        this.updateCheckpoint(id, state, { shares: state.lastShares });
    }
  }

  /** Open runs with figures at this reading (attribution from the last checkpoint), for 'progress' events. */
  progressRuns(reading: MeterReading): Run[] {
    const out: Run[] = [];
    for (const id of this.open.keys()) {
      const run = this.runs.get(id)!;
      this.refresh(run, reading, false);
      out.push(run);
    }
    return out;
  }

  /** Closes every open run as interrupted (shutdown): their energy is kept up to now. */
  async interruptAll(reason: string): Promise<void> {
    for (const id of [...this.open.keys()]) await this.closeRun(id, { status: 'interrupted', error: reason });
  }

  /**
   * Applies `change` to a copy of the run, stores the copy, and only then makes it the run:
   * a write that fails (disk full) throws with the run unchanged in memory.
   */
  private commit(run: Run, opts: { durable?: boolean }, change: (draft: Run) => void): void {
    const draft = structuredClone(run);
    change(draft);
    void this.deps.store.put(draft, opts);
    Object.assign(run, draft);
  }

  private updateCheckpoint(id: string, state: OpenRunState, change: Partial<OpenRunCheckpoint>): void {
    state.checkpoint = { ...state.checkpoint, ...change };
    this.saveCheckpoint(id, state.checkpoint);
  }

  private hasGpu(components: readonly Component[]): boolean {
    const gpu = this.deps.meter.source('gpu');
    return components.includes('gpu') && gpu !== undefined && gpu.method !== 'none';
  }

  /** The GPU process list for a window ending at endMonoMs: a recent one, else the one in flight, else a new one. */
  private async gpuUse(endMonoMs: number): Promise<GpuUse | null> {
    const scope = this.deps.gpuByProcess;
    if (!scope) return null;
    // A recent list is used as is (a close never waits for nvidia-smi then); only a missing or stale one is awaited.
    let snap = scope.latest;
    if (!snap || performance.now() - snap.monoMs > GPU_USE_MAX_AGE_MS)
      snap = await (scope.pending() ?? scope.snapshot());
    return { apps: snap.apps, error: snap.error, ageS: (snap.monoMs - endMonoMs) / 1000 };
  }

  private windowFigures(start: MeterReading, end: MeterReading, run: Run, gpuScope: string | null): WindowFigures {
    const meter = this.deps.meter;
    return windowFigures(start, end, {
      sourceOf: c => meter.source(c),
      included: run.components,
      gpuIds: run.gpuIds,
      provenance: this.deps.provenance,
      gpuScope,
      health: (c, from, to) => meter.health(c, from, to),
    });
  }

  private refresh(
    run: Run,
    reading: MeterReading,
    withAttribution: boolean,
    atClose?: { kernelEnd: KernelSnapshot | null; gpuUse: GpuUse | null },
  ): void {
    const state = this.open.get(run.id);
    if (!state) return;
    run.gpuIds = this.deps.gpuByProcess?.gpuIds(run.id) ?? run.gpuIds;
    const window = this.windowFigures(state.start, reading, run, state.gpuScope);
    const figures = addCarried(window, state.carried);
    run.durationS = figures.durationS;
    run.energy = figures.energy;
    run.energyJ = figures.energyJ;
    run.facilityEnergyJ = figures.energyJ * run.pue;
    run.emissionsG = this.deps.carbon.emissionsG(run.facilityEnergyJ, run.location);
    run.quality = quality(figures.energy);
    run.windowQuality = figures.windowQuality;
    run.energyScope = 'machine';
    run.degraded = figures.degraded;
    if (withAttribution && state.kernelStart && run.pid) {
      const kernelEnd = atClose ? atClose.kernelEnd : kernelSnapshot(this.proc, run.pid);
      const gpuUse = atClose ? atClose.gpuUse : this.latestGpuUse(reading);
      state.lastShares = attributeWindow({
        energy: figures.energy,
        gpuWindowJ: this.gpuWindowJ(state.start, reading, run.gpuIds),
        start: state.kernelStart,
        end: kernelEnd,
        gpu: gpuUse,
      });
    }
    if (state.lastShares) run.attribution = this.attribution(run, state.lastShares, figures);
    if (state.epoch) {
      const epoch = run.epochs.find(e => e.index === state.epoch!.index);
      if (epoch?.status === 'open') this.fillEpoch(run, epoch, state.epoch, reading);
    }
  }

  /** The latest GPU process list, without waiting for a new one. */
  private latestGpuUse(reading: MeterReading): GpuUse | null {
    const latest = this.deps.gpuByProcess?.latest;
    return latest ? { apps: latest.apps, error: latest.error, ageS: (latest.monoMs - reading.monoMs) / 1000 } : null;
  }

  /** Window energy of each GPU the run counts. */
  private gpuWindowJ(start: MeterReading, end: MeterReading, gpuIds: readonly number[] | null): Map<number, number> {
    const all = deviceWindowJ(start.components.gpu, end.components.gpu);
    if (gpuIds === null) return all;
    return new Map([...all].filter(([index]) => gpuIds.includes(index)));
  }

  /** The shares applied to the current figures (live figures reuse the last shares). */
  private attribution(run: Run, shares: ComponentShares, figures: WindowFigures): NonNullable<Run['attribution']> {
    const components = {} as ComponentShares;
    let energyJ = 0;
    for (const c of ['cpu', 'gpu', 'ram'] as const) {
      const componentJ = figures.energy[c].included ? figures.energy[c].energyJ : 0;
      components[c] = { ...shares[c], energyJ: shares[c].share * componentJ };
      energyJ += components[c].energyJ;
    }
    return {
      method: 'per-component',
      share: figures.energyJ > 0 ? energyJ / figures.energyJ : 0,
      energyJ,
      facilityEnergyJ: energyJ * run.pue,
      components,
    };
  }

  private finishEpoch(
    run: Run,
    open: OpenEpochState,
    reading: MeterReading,
    status: 'ok' | 'interrupted',
    nBatch?: number,
  ): void {
    const epoch = run.epochs.find(e => e.index === open.index)!;
    this.fillEpoch(run, epoch, open, reading);
    if (nBatch !== undefined) epoch.nBatch = nBatch;
    epoch.status = status;
    epoch.endedAt = new Date(reading.wallMs).toISOString();
  }

  private fillEpoch(run: Run, epoch: Epoch, open: OpenEpochState, reading: MeterReading): void {
    const figures = this.windowFigures(open.start, reading, run, this.open.get(run.id)?.gpuScope ?? null);
    epoch.durationS = figures.durationS;
    epoch.windowQuality = figures.windowQuality;
    epoch.energy = figures.energy;
    epoch.energyJ = figures.energyJ;
    epoch.facilityEnergyJ = figures.energyJ * run.pue;
    epoch.emissionsG = this.deps.carbon.emissionsG(epoch.facilityEnergyJ, run.location);
    epoch.nBatch = run.batchesCounted - open.batchesAtStart;
  }

  private setModel(run: Run, model: NonNullable<OpenRunRequest['model']>): void {
    run.model = {
      framework: model.framework,
      nParameters: model.nParameters,
      nFeatures: model.nFeatures,
      sizeBucket: sizeBucket(model.nParameters),
      name: model.name ?? null,
    };
  }

  private require(id: string): Run {
    const run = this.runs.get(id);
    if (!run) throw new LedgerError('not_found', `run ${id} not found`);
    return run;
  }

  private requireOpen(id: string, what: string): Run {
    const run = this.require(id);
    if (!this.open.has(id))
      throw new LedgerError('conflict', `cannot ${what} run ${id}: it is ${run.status}, not open`);
    return run;
  }

  private emit(event: RunEvent, run: Run): void {
    for (const listener of this.listeners) {
      try {
        listener(event, run);
      } catch (err) {
        this.log(`run event listener failed: ${(err as Error).message}`);
      }
    }
  }
}
