/**
 * The durable store of runs: the ledger's only persistence. Closed runs are put durably
 * (fdatasync before the reply); open runs are checkpointed with group commit.
 */
import type { Run } from '../api/schemas.js';
import { Journal, type StorageWarning } from './journal.js';

export interface RunStoreOptions {
  dataDir: string;
  syncIntervalMs?: number;
  compactBytes?: number;
  log?: (msg: string) => void;
}

export class RunStore {
  private readonly journal: Journal<Run>;

  constructor(opts: RunStoreOptions) {
    this.journal = new Journal<Run>({
      dir: opts.dataDir,
      name: 'runs',
      syncIntervalMs: opts.syncIntervalMs,
      compactBytes: opts.compactBytes,
      log: opts.log,
      validate: runShapeError,
    });
  }

  /** Damaged records or files met when the store was opened. */
  get warnings(): readonly StorageWarning[] {
    return this.journal.storageWarnings;
  }

  /** Loads every stored run. */
  open(): Run[] {
    return [...this.journal.open().values()];
  }

  /** Writes the run now; `durable` also fsyncs, and the returned promise waits for it. */
  put(run: Run, opts: { durable?: boolean } = {}): Promise<void> {
    return this.journal.put(run.id, run, opts);
  }

  flush(): Promise<void> {
    return this.journal.sync();
  }

  compact(): void {
    this.journal.compact();
  }

  close(): void {
    this.journal.close();
  }

  get journalBytes(): number {
    return this.journal.sizeBytes;
  }
}

const RUN_STATUSES = new Set(['open', 'ok', 'error', 'interrupted']);

/**
 * The fields the ledger and the outputs rely on. Deliberately not the full schema: a record
 * written by an older version (fewer optional fields) must still load.
 */
export function runShapeError(value: unknown, id: string): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a run object';
  const run = value as Record<string, unknown>;
  if (run.id !== id) return 'its id does not match the record';
  if (typeof run.status !== 'string' || !RUN_STATUSES.has(run.status)) return 'no valid status';
  if (typeof run.startedAt !== 'string' || Number.isNaN(Date.parse(run.startedAt))) return 'no start time';
  if (typeof run.kind !== 'string') return 'no kind';
  if (typeof run.energy !== 'object' || run.energy === null) return 'no energy breakdown';
  if (!Array.isArray(run.epochs)) return 'no epochs list';
  if (typeof run.location !== 'object' || run.location === null) return 'no location';
  return null;
}
