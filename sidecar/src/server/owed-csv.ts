/**
 * The CSV row as a projection of the ledger: a close records the row it owes (Run.csvPending) in the
 * same store write that records the close; the row is then appended (one write(2), so the file shows
 * it when the client gets the answer) and its fdatasync runs after the answer. The debt is cleared once
 * the row is on disk, and a sidecar that starts with debts writes those rows again, so a crash between
 * the close and the row loses nothing.
 */
import type { CloseRunResponse, Run } from '../api/schemas.js';
import type { Ledger } from '../ledger/ledger.js';
import type { PnavOutputs } from '../outputs/index.js';
import { DiskWriteError } from '../util/atomic-file.js';

interface OwedCsvDeps {
  ledger: Ledger;
  outputs: PnavOutputs;
  log: (msg: string) => void;
}

/** Writes the row a close just recorded as owed; the answer's `csv`. */
export async function writeOwedCsv(deps: OwedCsvDeps, run: Run): Promise<CloseRunResponse['csv']> {
  const { ledger, outputs, log } = deps;
  try {
    const written = await outputs.writeCsv(run, run.csvPending!, { deferSync: true });
    outputs.syncCsv(written.unsyncedPaths).then(
      () => ledger.csvWritten(run.id),
      err =>
        log(`run ${run.id}: CSV row written but not synced (${(err as Error).message}); rewritten at the next start`),
    );
    return { path: written.path, epochsPath: written.epochsPath, methodsPath: written.methodsPath, error: null };
  } catch (err) {
    if (err instanceof DiskWriteError) {
      return {
        path: null,
        epochsPath: null,
        methodsPath: null,
        error: `${err.message} (the row is kept and written when the sidecar restarts)`,
      };
    }
    ledger.csvWritten(run.id); // a bad target (missing folder, a path as file name) is the client's: nothing is owed
    return { path: null, epochsPath: null, methodsPath: null, error: (err as Error).message };
  }
}

/** At start: the rows owed by runs closed before a crash, written with `update` (replaced where they already are). */
export async function writeRowsOwedAtStart(deps: OwedCsvDeps): Promise<number> {
  const { ledger, outputs, log } = deps;
  let written = 0;
  for (const run of ledger.owingCsv()) {
    try {
      await outputs.writeCsv(run, { ...run.csvPending!, onCsvWrite: 'update' });
      ledger.csvWritten(run.id);
      written++;
    } catch (err) {
      if (!(err instanceof DiskWriteError)) ledger.csvWritten(run.id);
      log(`run ${run.id}: the CSV row it owed could not be written: ${(err as Error).message}`);
    }
  }
  if (written > 0) log(`wrote ${written} CSV row(s) owed by runs closed before the last stop`);
  return written;
}
