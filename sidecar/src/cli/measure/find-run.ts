/**
 * Which sidecar run belongs to the cell that just ran. The magic tags its run with the kernel id
 * and the cell id (from the execute request's metadata), so the newest unseen `cell` run of our
 * kernel with that cell id is it; other unseen runs (decorated functions inside the cell) are skipped.
 */
import type { Run } from '../../api/schemas.js';
import type { SidecarClient } from './sidecar-client.js';

const LOOKUP_ATTEMPTS = 10;
const LOOKUP_PAUSE_MS = 100;
const CLOSE_WAIT_MS = 3_000;

const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export class RunFinder {
  private readonly seen = new Set<string>();

  constructor(
    private readonly client: SidecarClient,
    private readonly kernelId: string,
  ) {}

  /** Runs the kernel already had before the notebook started (a reused server's kernel) are not ours. */
  async markExisting(): Promise<void> {
    for (const run of await this.client.listRuns({ kernelId: this.kernelId, limit: 10_000 })) this.seen.add(run.id);
  }

  async runOfCell(cellId: string, attempts = LOOKUP_ATTEMPTS): Promise<Run | null> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const fresh = (await this.client.listRuns({ kernelId: this.kernelId, limit: 100 })).filter(
        run => !this.seen.has(run.id),
      );
      for (const run of fresh) this.seen.add(run.id);
      const pick =
        fresh.find(run => run.kind === 'cell' && run.cellId === cellId) ?? fresh.find(run => run.kind === 'cell');
      if (pick) return pick;
      await pause(LOOKUP_PAUSE_MS);
    }
    return null;
  }

  /**
   * The label we asked for on a wrapped cell, set through the API when the magic recorded it
   * differently (IPython's argument splitting keeps the quotes around a quoted label).
   */
  async ensureLabel(run: Run, label: string): Promise<Run> {
    return run.label === label ? run : this.client.patchRun(run.id, { label });
  }

  /** A run the magic is still closing (its reply can overtake the close): wait briefly for it. */
  async untilClosed(run: Run): Promise<Run> {
    const deadline = Date.now() + CLOSE_WAIT_MS;
    let current = run;
    while (current.status === 'open' && Date.now() < deadline) {
      await pause(LOOKUP_PAUSE_MS);
      current = await this.client.getRun(run.id);
    }
    return current;
  }
}
