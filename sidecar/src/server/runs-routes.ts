/** Routes of runs, epochs and batches under /api/v1. */
import { Router } from 'express';
import { z } from 'zod';
import {
  CloseEpochRequestSchema,
  CloseRunRequestSchema,
  CountBatchesRequestSchema,
  ListRunsQuerySchema,
  OpenEpochRequestSchema,
  OpenRunRequestSchema,
  PatchRunRequestSchema,
} from '../api/schemas.js';
import type { Ledger } from '../ledger/ledger.js';
import { HttpError } from './errors.js';
import type { PnavOutputs } from './outputs-port.js';
import { parseOr400 } from './validate.js';

const EpochIndexSchema = z.object({ index: z.coerce.number().int().min(0).max(1_000_000) });

export interface RunsRoutesDeps {
  ledger: Ledger;
  outputs: PnavOutputs | null;
  log: (msg: string) => void;
}

export function runsRouter({ ledger, outputs, log }: RunsRoutesDeps): Router {
  const router = Router();

  router.post('/runs', (req, res) => {
    const body = parseOr400(OpenRunRequestSchema, req.body);
    res.status(201).json({ run: ledger.openRun(body, new Set(Object.keys(req.body ?? {}))) });
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
    const body = parseOr400(CloseRunRequestSchema, req.body);
    const { run, alreadyClosed } = await ledger.closeRun(req.params.id, body);
    let csv: { path: string | null; epochsPath: string | null; error: string | null } | null = null;
    let upload: { id: string; status: string } | null = null;
    // Outputs of a run are produced once, by the close that closed it.
    if (!alreadyClosed && body.output) {
      if (!outputs) csv = { path: null, epochsPath: null, error: 'CSV output is not available in this sidecar build' };
      else {
        try {
          const written = await outputs.writeCsv(run, body.output);
          csv = { path: written.path, epochsPath: written.epochsPath, error: null };
        } catch (err) {
          csv = { path: null, epochsPath: null, error: (err as Error).message };
        }
      }
    }
    if (!alreadyClosed && body.submit) {
      if (!outputs) log(`run ${run.id}: submission requested but PNAV outputs are not available in this build`);
      else {
        try {
          upload = await outputs.enqueue(run, body.submit);
        } catch (err) {
          log(`run ${run.id}: could not queue the PNAV submission: ${(err as Error).message}`);
        }
      }
    }
    res.json({ run, csv, upload });
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
