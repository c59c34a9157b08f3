/**
 * The run ledger: runs and epochs open and close on request, each reading every power source
 * at that instant. Many runs may be open at once; each reports the machine's energy in its
 * window, plus a CPU-time attribution to the kernel's process tree when it gave its pid.
 * Open runs are checkpointed to the store so a crash keeps their energy up to the checkpoint.
 */
import { randomUUID } from 'node:crypto';
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
import type { ByProcessGpuScope } from '../power/gpu/by-process.js';
import { type CpuSnapshot, cpuTimeShare, ProcReader } from '../power/host/process-shares.js';
import type { Meter, MeterReading } from '../power/meter.js';
import { type SettingsContext, settingsForOpenRun } from '../settings/apply.js';
import type { RunStore } from '../store/run-store.js';
import { byIso } from '../util/iso-order.js';
import type { Carbon } from './carbon-port.js';
import { quality, sizeBucket, windowFigures, zeroBreakdown } from './figures.js';

/** 'progress' events are produced by the sampler from progressRuns(), not emitted here. */
export type RunEvent = 'opened' | 'progress' | 'epoch' | 'closed' | 'updated';

export class LedgerError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict',
    message: string,
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
  /** GPUs of runs in gpu_mode 'by-process', learnt from nvidia-smi while they last. */
  gpuByProcess?: ByProcessGpuScope;
  log?: (msg: string) => void;
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
  attributionStart: CpuSnapshot | null;
  lastAttribution: Run['attribution'];
  epoch: OpenEpochState | null;
  nEpochGiven: boolean;
  nBatchGiven: boolean;
}

const INTERRUPTED_ERROR = 'the sidecar stopped before this run closed; energy is counted up to its last checkpoint';

export class Ledger {
  private readonly runs = new Map<string, Run>();
  private readonly open = new Map<string, OpenRunState>();
  private readonly listeners = new Set<(event: RunEvent, run: Run) => void>();
  private readonly proc: ProcReader;
  private readonly log: (msg: string) => void;

  constructor(private readonly deps: LedgerDeps) {
    this.proc = new ProcReader(deps.procRoot);
    this.log = deps.log ?? (() => {});
  }

  /**
   * Loads stored runs. Runs that were open when the sidecar died come back `interrupted`,
   * with the figures of their last checkpoint. Returns how many were interrupted.
   */
  async load(): Promise<number> {
    const stored = this.deps.store.open().sort((a, b) => byIso(a.startedAt, b.startedAt));
    const interrupted: Run[] = [];
    for (const run of stored) {
      if (run.status === 'open') {
        run.status = 'interrupted';
        run.endedAt = run.checkpointAt ?? run.startedAt;
        run.error = INTERRUPTED_ERROR;
        for (const epoch of run.epochs) {
          if (epoch.status === 'open') {
            epoch.status = 'interrupted';
            epoch.endedAt = run.endedAt;
          }
        }
        interrupted.push(run);
      }
      this.runs.set(run.id, run);
    }
    for (const run of interrupted) void this.deps.store.put(run);
    if (interrupted.length > 0) await this.deps.store.flush(); // one fdatasync for all of them
    if (interrupted.length > 0) this.log(`recovered ${interrupted.length} interrupted run(s)`);
    return interrupted.length;
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
    // Fields the request left unset come from the settings, each with its source.
    const applied = this.deps.settings ? settingsForOpenRun(req, { ...this.deps.settings, explicit }).applied : null;
    if (applied) req = applied;
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
    });
    const run: Run = {
      id: randomUUID(),
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
      attribution: null,
      epochs: [],
      error: null,
      client: {
        os: req.client?.os ?? null,
        pythonVersion: req.client?.pythonVersion ?? null,
        tool: req.client?.tool ?? null,
      },
      checkpointAt: startedAt,
      ...(applied && { settingsSources: applied.settingsSources, outputDir: applied.outputDir }),
    };
    run.quality = quality(run.energy);
    const attributionStart = req.pid ? this.proc.snapshot(req.pid) : null;
    run.attribution = attributionStart ? { method: 'cpu-time-share', share: 0, energyJ: 0 } : null;
    // Stored first: a write that fails (disk full) throws here, and a run the client got an
    // error for must not be registered, or the next checkpoint would store it after all.
    void this.deps.store.put(run);
    this.open.set(run.id, {
      start: reading,
      attributionStart,
      lastAttribution: run.attribution,
      epoch: null,
      nEpochGiven: req.nEpoch !== undefined,
      nBatchGiven: req.nBatch !== undefined,
    });
    this.runs.set(run.id, run);
    if (applied?.gpuMode === 'by-process' && req.pid) this.deps.gpuByProcess?.track(run.id, req.pid);
    this.emit('opened', run);
    return run;
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
    if (req.label !== undefined) run.label = req.label;
    if (req.nEpoch !== undefined) {
      run.nEpoch = req.nEpoch;
      if (state) state.nEpochGiven = true;
    }
    if (req.nBatch !== undefined) {
      run.nBatch = req.nBatch;
      if (state) state.nBatchGiven = true;
    }
    if (req.modelId !== undefined) run.modelId = req.modelId;
    if (req.model) this.setModel(run, req.model);
    void this.deps.store.put(run, { durable: !state });
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
    // An epoch left open (an exception in the training loop) ends where the next one starts.
    if (state.epoch) this.finishEpoch(run, state, reading, 'ok');
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
    run.epochs.push(epoch);
    state.epoch = { index, start: reading, batchesAtStart: run.batchesCounted };
    this.emit('epoch', run);
    return epoch;
  }

  closeEpoch(id: string, index: number, req: z.infer<typeof CloseEpochRequestSchema>): Epoch {
    const run = this.require(id);
    const epoch = run.epochs.find(e => e.index === index);
    if (!epoch) throw new LedgerError('not_found', `epoch ${index} not found in run ${id}`);
    const state = this.open.get(id);
    if (epoch.status !== 'open' || !state || state.epoch?.index !== index) return epoch; // closing twice is harmless
    this.finishEpoch(run, state, this.deps.meter.read(), 'ok', req.nBatch);
    void this.deps.store.put(run);
    this.emit('epoch', run);
    return epoch;
  }

  /**
   * Closes the run with a reading taken now, writes it to the store and starts its fsync.
   * Closing a closed run returns it unchanged with `alreadyClosed`.
   */
  async closeRun(id: string, req: CloseRunRequest): Promise<{ run: Run; alreadyClosed: boolean }> {
    const run = this.require(id);
    const state = this.open.get(id);
    if (!state) return { run, alreadyClosed: true };
    if (this.deps.gpuByProcess?.gpuIds(id)) {
      await this.deps.gpuByProcess.refresh(); // the GPUs the kernel used up to now count
      if (!this.open.has(id)) return { run, alreadyClosed: true }; // closed meanwhile by another request
    }
    const reading = this.deps.meter.read();
    if (state.epoch) this.finishEpoch(run, state, reading, req.status === 'interrupted' ? 'interrupted' : 'ok');
    if (req.model) this.setModel(run, req.model);
    if (req.nEpoch !== undefined) run.nEpoch = req.nEpoch;
    else if (!state.nEpochGiven) run.nEpoch = run.epochs.length;
    if (req.nBatch !== undefined) run.nBatch = req.nBatch;
    this.refresh(run, reading, true);
    run.status = req.status;
    run.error = req.error ?? null;
    run.endedAt = new Date(reading.wallMs).toISOString();
    run.checkpointAt = null;
    this.open.delete(id);
    this.deps.gpuByProcess?.untrack(id);
    // write(2) happens now (safe from kill -9); the fdatasync follows within 10 ms, shared by the
    // closes of that window (group commit), without holding the reply for it (~1-2 ms on a VM
    // disk): only a power cut within that window could lose the close.
    void this.deps.store.put(run, { durable: true });
    this.emit('closed', run);
    return { run, alreadyClosed: false };
  }

  /** Writes every open run's figures at this reading to the store (group commit). */
  checkpoint(reading: MeterReading = this.deps.meter.read()): void {
    for (const id of this.open.keys()) {
      const run = this.runs.get(id)!;
      this.refresh(run, reading, true);
      run.checkpointAt = new Date(reading.wallMs).toISOString();
      void this.deps.store.put(run);
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

  private refresh(run: Run, reading: MeterReading, withAttribution: boolean): void {
    const state = this.open.get(run.id);
    if (!state) return;
    run.gpuIds = this.deps.gpuByProcess?.gpuIds(run.id) ?? run.gpuIds;
    const figures = windowFigures(state.start, reading, c => this.deps.meter.source(c), run.components, run.gpuIds);
    run.durationS = figures.durationS;
    run.energy = figures.energy;
    run.energyJ = figures.energyJ;
    run.facilityEnergyJ = figures.energyJ * run.pue;
    run.emissionsG = this.deps.carbon.emissionsG(run.facilityEnergyJ, run.location);
    run.quality = quality(figures.energy);
    if (withAttribution && state.attributionStart && run.pid) {
      const now = this.proc.snapshot(run.pid);
      if (now) {
        const share = cpuTimeShare(state.attributionStart, now);
        state.lastAttribution = { method: 'cpu-time-share', share, energyJ: share * figures.energyJ };
      }
    }
    if (state.lastAttribution) {
      const share = state.lastAttribution.share;
      run.attribution = { method: 'cpu-time-share', share, energyJ: share * figures.energyJ };
    }
    if (state.epoch) {
      const epoch = run.epochs.find(e => e.index === state.epoch!.index);
      if (epoch) this.fillEpoch(run, epoch, state.epoch, reading);
    }
  }

  private finishEpoch(
    run: Run,
    state: OpenRunState,
    reading: MeterReading,
    status: 'ok' | 'interrupted',
    nBatch?: number,
  ): void {
    const open = state.epoch!;
    const epoch = run.epochs.find(e => e.index === open.index)!;
    this.fillEpoch(run, epoch, open, reading);
    if (nBatch !== undefined) epoch.nBatch = nBatch;
    epoch.status = status;
    epoch.endedAt = new Date(reading.wallMs).toISOString();
    state.epoch = null;
  }

  private fillEpoch(run: Run, epoch: Epoch, open: OpenEpochState, reading: MeterReading): void {
    const figures = windowFigures(open.start, reading, c => this.deps.meter.source(c), run.components, run.gpuIds);
    epoch.durationS = figures.durationS;
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
