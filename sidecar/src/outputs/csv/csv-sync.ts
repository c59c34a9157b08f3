/**
 * The fdatasync of CSV rows appended after a close was answered: one sync per file at a time, and a
 * write that arrives while a sync runs shares the next one (group commit), so a burst of closes
 * costs two syncs per file, not one each.
 */
import { syncFile } from '../../util/atomic-file.js';

export class CsvSync {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Promise<void>>();

  constructor(private readonly syncOne: (filePath: string) => Promise<void> = syncFile) {}

  /** Resolves once every byte written to these files before the call is on disk. */
  sync(paths: readonly string[]): Promise<void> {
    return Promise.all(paths.map(p => this.syncPath(p))).then(() => undefined);
  }

  private syncPath(filePath: string): Promise<void> {
    const queued = this.queued.get(filePath);
    if (queued) return queued; // not started yet: it will cover this write too
    const running = this.running.get(filePath);
    const start = (): Promise<void> => {
      this.queued.delete(filePath);
      const sync = this.syncOne(filePath).finally(() => {
        if (this.running.get(filePath) === sync) this.running.delete(filePath);
      });
      this.running.set(filePath, sync);
      return sync;
    };
    if (!running) return start();
    // The running sync may have begun before this write: a new one starts after it.
    const next = running.then(start, start);
    this.queued.set(filePath, next);
    return next;
  }
}
