/** Routes of runs, epochs and batches under /api/v1. */
import os from 'node:os';
import path from 'node:path';
import { Router } from 'express';
import { z } from 'zod';
import { HttpError } from '../api/errors.js';
import {
  CloseEpochRequestSchema,
  type CloseRunRequest,
  CloseRunRequestSchema,
  type CloseRunResponse,
  CountBatchesRequestSchema,
  ListRunsQuerySchema,
  OpenEpochRequestSchema,
  OpenRunRequestSchema,
  PatchRunRequestSchema,
  type Run,
} from '../api/schemas.js';
import { parseOr400 } from '../api/validate.js';
import type { Ledger } from '../ledger/ledger.js';
import type { PnavOutputs } from '../outputs/index.js';
import { writeOwedCsv } from './owed-csv.js';

const EpochIndexSchema = z.object({ index: z.coerce.number().int().min(0).max(1_000_000) });

export interface RunsRoutesDeps {
  ledger: Ledger;
  outputs: PnavOutputs;
  log: (msg: string) => void;
}

export function runsRouter({ ledger, outputs, log }: RunsRoutesDeps): Router {
  const router = Router();

  router.post('/runs', (req, res) => {
    res.status(201).json(openRunAction(ledger, req.body));
  });

  router.get('/runs', (req, res) => {
    const query = parseOr400(ListRunsQuerySchema, req.query, 'query');
    res.json({ runs: ledger.list(query) });
  });

  router.get('/runs/:id', (req, res) => {
    const run = ledger.get(req.params.id);
    if (!run) throw new HttpError(404, 'not_found', `run ${req.params.id} not found`);
    res.json({ run });
  });

  router.patch('/runs/:id', (req, res) => {
    const body = parseOr400(PatchRunRequestSchema, req.body);
    res.json({ run: ledger.patch(req.params.id, body) });
  });

  router.post('/runs/:id/close', async (req, res) => {
    res.json(await closeRunAction({ ledger, outputs, log }, req.params.id, req.body));
  });

  router.post('/runs/:id/epochs', (req, res) => {
    const body = parseOr400(OpenEpochRequestSchema, req.body);
    res.status(201).json({ epoch: ledger.openEpoch(req.params.id, body) });
  });

  router.post('/runs/:id/epochs/:index/close', (req, res) => {
    const { index } = parseOr400(EpochIndexSchema, req.params, 'params');
    const body = parseOr400(CloseEpochRequestSchema, req.body);
    res.json({ epoch: ledger.closeEpoch(req.params.id, index, body) });
  });

  router.post('/runs/:id/batches', (req, res) => {
    const body = parseOr400(CountBatchesRequestSchema, req.body);
    res.json({ run: ledger.countBatches(req.params.id, body) });
  });

  return router;
}

/** The CSV folder: the run's configured output_dir replaces a fallback `dir` (the kernel's cwd), relative to it. */
export function csvTarget(run: Run, output: NonNullable<CloseRunRequest['output']>): CsvOutputTarget {
  const { dirIsFallback, ...target } = output;
  if (!dirIsFallback || !run.outputDir) return target;
  const configured = run.outputDir.replace(/^~(?=$|\/)/, os.homedir());
  return { ...target, dir: path.resolve(output.dir, configured) };
}

type CsvOutputTarget = Omit<NonNullable<CloseRunRequest['output']>, 'dirIsFallback'>;

/** POST /runs: the parsed JSON body (undefined when none) → the 201 body. Shared with hot-routes.ts. */
export function openRunAction(ledger: Ledger, rawBody: unknown): { run: Run } {
  const body = parseOr400(OpenRunRequestSchema, rawBody);
  const explicit = new Set(rawBody && typeof rawBody === 'object' ? Object.keys(rawBody) : []);
  return { run: ledger.openRun(body, explicit) };
}

/**
 * POST /runs/:id/close: closes the run, then writes its CSV and queues its submission when asked.
 * Outputs of a run are produced once, by the close that closed it. Shared with hot-routes.ts.
 */
export async function closeRunAction(deps: RunsRoutesDeps, id: string, rawBody: unknown): Promise<CloseRunResponse> {
  const { ledger, outputs, log } = deps;
  const body = parseOr400(CloseRunRequestSchema, rawBody);
  const output = body.output;
  // calculadorapnav records nothing for a failed run, and the 40 PNAV columns carry no status: a failed
  // run's row would read as a normal one. It stays in the ledger, the panel and the JSON export.
  const notForPnav = (closed: Run) => closed.status !== 'ok' && !body.recordFailed;
  const { run, alreadyClosed } = await ledger.closeRun(id, body, {
    csvPending: output ? closed => (notForPnav(closed) ? undefined : csvTarget(closed, output)) : undefined,
  });
  let csv: CloseRunResponse['csv'] = null;
  let upload: CloseRunResponse['upload'] = null;
  let uploadError: string | null = null;
  let notRecorded: string | null = null;
  if (!alreadyClosed && notForPnav(run) && (body.output || body.submit)) {
    notRecorded = `the run ended ${run.status === 'error' ? 'with an error' : 'interrupted'}: no PNAV CSV row and no submission (recordFailed records it anyway)`;
    return { run, csv: null, upload: null, uploadError: null, notRecorded };
  }
  if (!alreadyClosed && run.csvPending) csv = await writeOwedCsv(deps, run);
  if (!alreadyClosed && body.submit) {
    try {
      upload = await outputs.enqueue(run, body.submit);
    } catch (err) {
      // The message names the field (parseSubmitTarget) and never carries the token.
      uploadError = `could not queue the PNAV submission: ${(err as Error).message}`;
    }
    if (uploadError) log(`run ${run.id}: ${uploadError}`);
  }
  return { run, csv, upload, uploadError, notRecorded };
}
