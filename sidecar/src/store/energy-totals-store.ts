/**
 * The cumulative energy counters of /metrics (`pnav_energy_joules_total`), kept in the data dir so
 * they continue across sidecar restarts instead of restarting from zero. One small journal
 * (`energy.journal`, 0600) of the same kind as the runs' (store/journal.ts): written at every
 * checkpoint (group-committed), before every scrape (durably: a restart never shows a scraper a
 * lower value, which Prometheus would take for a reset), and at shutdown.
 */
import { Journal, type StorageWarning } from './journal.js';

interface EnergyTotalsRecord {
  /** `component|method|measured` → J. */
  energyJ: Record<string, number>;
  at: string;
}

const ID = 'energy-totals';

export class EnergyTotalsStore {
  private readonly journal: Journal<EnergyTotalsRecord>;

  constructor(opts: { dataDir: string; log?: (msg: string) => void }) {
    // One record rewritten every few seconds: compact often, the file stays small.
    this.journal = new Journal({
      dir: opts.dataDir,
      name: 'energy',
      compactBytes: 256 * 1024,
      log: opts.log,
      validate: value =>
        typeof value === 'object' && value !== null && typeof (value as EnergyTotalsRecord).energyJ === 'object'
          ? null
          : 'not an energy totals record',
    });
  }

  get warnings(): readonly StorageWarning[] {
    return this.journal.storageWarnings;
  }

  /** The last totals written, {} on a new data dir (or an unreadable record). */
  load(): Record<string, number> {
    const record = this.journal.open().get(ID);
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(record?.energyJ ?? {})) {
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) out[key] = value;
    }
    return out;
  }

  put(energyJ: Record<string, number>, opts: { durable?: boolean } = {}): Promise<void> {
    return this.journal.put(ID, { energyJ, at: new Date().toISOString() }, opts);
  }

  flush(): Promise<void> {
    return this.journal.sync();
  }

  close(): void {
    this.journal.close();
  }
}
