/**
 * The PNAV outputs of the sidecar: CSV files, exports, previews, the durable submission outbox
 * and its routes. `server/sidecar.ts` creates them once; run close writes through `writeCsv` and
 * `enqueue`, and `router` is mounted under /api/v1.
 */
import path from 'node:path';
import type { Router } from 'express';
import type { Run } from '../api/schemas.js';
import { VERSION } from '../util/version.js';
import { type CsvOutput, writeRunCsv } from './csv/csv-file.js';
import { CsvSync } from './csv/csv-sync.js';
import { Outbox, type OutboxOptions } from './outbox/outbox.js';
import { pyJson } from './py-format.js';
import { type HardwareFacts, runToRecord } from './record.js';
import { createPnavRouter, type RunSource } from './router.js';
import { parseSubmitTarget } from './validate.js';

export interface PnavOutputsDeps {
  dataDir: string;
  runs: RunSource;
  hardware: () => HardwareFacts;
  log: (msg: string) => void;
  /** Retry timing, for tests; defaults suit real use. */
  outbox?: Pick<OutboxOptions, 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs' | 'timeoutMs'>;
}

export interface PnavOutputs {
  router: Router;
  /** `deferSync`: appends without fdatasync; the files to sync are in `unsyncedPaths` (see syncCsv). */
  writeCsv(
    run: Run,
    output: CsvOutput,
    opts?: { deferSync?: boolean },
  ): Promise<{ path: string; epochsPath: string | null; methodsPath: string; unsyncedPaths: string[] }>;
  /** fdatasync of CSV files written with `deferSync` (group commit per file). */
  syncCsv(paths: readonly string[]): Promise<void>;
  enqueue(
    run: Run,
    submit: { endpointUrl: string; token: string; modelId: string; allowInsecureEndpoint?: boolean },
  ): Promise<{ id: string; status: string }>;
  outbox: Outbox;
  start(): void;
  stop(): Promise<void>;
}

export function outboxDir(dataDir: string): string {
  return path.join(dataDir, 'outbox');
}

export function createPnavOutputs(deps: PnavOutputsDeps): PnavOutputs {
  const csvSync = new CsvSync();
  const outbox = new Outbox({ dir: outboxDir(deps.dataDir), log: deps.log, ...deps.outbox });
  return {
    router: createPnavRouter({ runs: deps.runs, hardware: deps.hardware, outbox, version: VERSION }),
    outbox,
    async writeCsv(run, output, opts = {}) {
      const written = await writeRunCsv(run, deps.hardware(), output, opts);
      const { path, epochsPath, methodsPath, unsyncedPaths } = written;
      return { path, epochsPath, methodsPath, unsyncedPaths };
    },
    syncCsv: paths => csvSync.sync(paths),
    async enqueue(run, submit) {
      const target = parseSubmitTarget(submit); // throws naming the field, never the token
      const record = runToRecord(run, deps.hardware(), { modelId: target.modelId });
      const upload = await outbox.enqueue({
        endpointUrl: target.endpointUrl,
        token: target.token,
        modelId: target.modelId,
        typeProcess: run.typeProcess,
        notebookPath: run.notebookPath,
        runIds: [run.id],
        body: pyJson(record),
      });
      return { id: upload.id, status: upload.status };
    },
    start: () => outbox.start(),
    stop: () => outbox.stop(),
  };
}
