/**
 * The durable store of runs: the ledger's only persistence. Closed runs are put durably
 * (fdatasync before the reply); open runs are checkpointed with group commit.
 */
import type { Run } from '../api/schemas.js';
import { Journal } from './journal.js';

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
    });
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
