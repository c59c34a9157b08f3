/**
 * What a crash needs to recover open runs, kept apart from the runs themselves so a checkpoint
 * costs one small line whatever the number of open runs (`checkpoints.journal`, 0600):
 * - `meter`: the latest meter reading of this sidecar session, rewritten every checkpoint;
 * - `run:<id>`: an open run's window start (a reading of the same session), its kernel's
 *   identity, its last CPU-time share and its open epoch; written when the run opens and only
 *   again when one of these changes; deleted when the run closes.
 * After a crash, an open run's energy is the difference between its start and the session's
 * last meter reading: counters are cumulative, so nothing per run needs rewriting as energy grows.
 */
import type { Component } from '../api/schemas.js';
import { Journal, type StorageWarning } from './journal.js';

/** A meter reading as stored (the shape of power/meter.ts's MeterReading, which this layer does not import). */
export interface MeterReading {
  monoMs: number;
  wallMs: number;
  components: Partial<
    Record<
      Component,
      {
        energyJ: number;
        powerW: number | null;
        devices: { deviceId: string; energyJ: number; powerW: number | null }[];
      }
    >
  >;
}

/** Energy carried over from before a sidecar restart, added to the run's current window. */
export interface CarriedFigures {
  durationS: number;
  /** Per component, J. */
  energyJ: Record<string, number>;
  /** Seconds between the last checkpoint and the restart: nothing was measured then. */
  unmeasuredS: number;
  restarts: number;
}

export interface OpenRunCheckpoint {
  session: string;
  start: MeterReading;
  /** /proc/<pid>/stat start time of the run's kernel when the run opened: tells a reused pid apart. */
  pidStartTicks: string | null;
  /**
   * The kernel's /proc figures when the run opened (OS counters, valid across sidecar restarts) and
   * its latest attributed shares; opaque here, the ledger's types.
   */
  kernelStart: unknown;
  shares: unknown;
  /** What the run's GPU figure covers. */
  gpuScope?: string | null;
  epoch: { index: number; start: MeterReading; batchesAtStart: number } | null;
  carried: CarriedFigures | null;
  /** The client gave nEpoch / nBatch itself (the close must not count them instead). */
  nEpochGiven?: boolean;
  nBatchGiven?: boolean;
}

export interface MeterCheckpoint {
  session: string;
  reading: MeterReading;
}

type Record_ = OpenRunCheckpoint | MeterCheckpoint;

const METER_ID = 'meter';
const runKey = (id: string) => `run:${id}`;

export class OpenRunCheckpoints {
  private readonly journal: Journal<Record_>;

  constructor(opts: { dataDir: string; log?: (msg: string) => void }) {
    this.journal = new Journal<Record_>({
      dir: opts.dataDir,
      name: 'checkpoints',
      compactBytes: 4 * 1024 * 1024,
      log: opts.log,
      validate: (value, id) => checkpointShapeError(value, id),
    });
  }

  open(): void {
    this.journal.open();
  }

  get warnings(): readonly StorageWarning[] {
    return this.journal.storageWarnings;
  }

  run(id: string): OpenRunCheckpoint | undefined {
    return this.journal.get(runKey(id)) as OpenRunCheckpoint | undefined;
  }

  meter(): MeterCheckpoint | undefined {
    return this.journal.get(METER_ID) as MeterCheckpoint | undefined;
  }

  putRun(id: string, checkpoint: OpenRunCheckpoint): void {
    void this.journal.put(runKey(id), checkpoint);
  }

  deleteRun(id: string): void {
    void this.journal.delete(runKey(id));
  }

  putMeter(checkpoint: MeterCheckpoint): void {
    void this.journal.put(METER_ID, checkpoint);
  }

  /** Drops every run record not in `keep` (runs closed while these records were not updated). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of [...this.journal.keys()])
      if (key.startsWith('run:') && !keep.has(key.slice(4))) void this.journal.delete(key);
  }

  flush(): Promise<void> {
    return this.journal.sync();
  }

  close(): void {
    this.journal.close();
  }
}

function isReading(value: unknown): value is MeterReading {
  const r = value as MeterReading | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.monoMs === 'number' &&
    typeof r.wallMs === 'number' &&
    typeof r.components === 'object' &&
    r.components !== null
  );
}

function checkpointShapeError(value: unknown, id: string): string | null {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || typeof v.session !== 'string') return 'not a checkpoint';
  if (id === METER_ID) return isReading(v.reading) ? null : 'no meter reading';
  if (!id.startsWith('run:')) return 'unknown record';
  return isReading(v.start) ? null : 'no start reading';
}
