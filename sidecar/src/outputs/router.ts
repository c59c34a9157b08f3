/**
 * The PNAV routes, mounted under /api/v1 by the server: exports (csv, json, boamps),
 * record previews and uploads. Bodies are zod-validated; errors use the API envelope;
 * the token is never part of a response.
 */
import express, { type ErrorRequestHandler, type Router } from 'express';
import { HttpError } from '../api/errors.js';
import type { Run, TypeProcess } from '../api/schemas.js';
import { parseOr400 } from '../api/validate.js';
import { byIso } from '../util/iso-order.js';
import { aggregateRuns } from './aggregate.js';
import { runToBoamps } from './boamps.js';
import { PNAV_HEADER } from './csv/columns.js';
import { csvLine } from './csv/csv-table.js';
import { methodObjects } from './csv/methods-file.js';
import { type Outbox, OutboxError } from './outbox/outbox.js';
import { csvCells, pyJson } from './py-format.js';
import { type HardwareFacts, runToRecord } from './record.js';
import {
  ExportFormatContentType,
  ExportRequestSchema,
  PreviewRequestSchema,
  RetryUploadRequestSchema,
  UploadRequestSchema,
  UploadsQuerySchema,
  UploadWaitQuerySchema,
} from './schemas.js';

export interface RunSource {
  get(id: string): Run | undefined;
  list(filter: { notebookPath?: string; runIds?: string[]; typeProcess?: string }): Run[];
}

export interface PnavRouterDeps {
  runs: RunSource;
  hardware: () => HardwareFacts;
  outbox: Outbox;
  version: string;
}

interface Selection {
  runIds?: string[];
  notebookPath?: string;
  typeProcess?: TypeProcess;
}

/** The closed runs a request names, oldest first: by id (all must exist) or by notebook. */
export function selectRuns(runs: RunSource, selection: Selection): Run[] {
  let chosen: Run[];
  if (selection.runIds) {
    const found = selection.runIds.map(id => runs.get(id));
    const unknown = selection.runIds.filter((_, i) => !found[i]);
    if (unknown.length > 0) throw new HttpError(404, 'not_found', `unknown run id(s): ${unknown.join(', ')}`);
    chosen = found as Run[];
    const open = chosen.filter(run => run.status === 'open');
    if (open.length > 0) {
      throw new HttpError(
        409,
        'conflict',
        `run(s) still open: ${open.map(run => run.id).join(', ')}; close them first`,
      );
    }
    if (selection.typeProcess) {
      const other = chosen.filter(run => run.typeProcess !== selection.typeProcess);
      if (other.length > 0) {
        throw new HttpError(
          400,
          'bad_request',
          `typeProcess: run(s) ${other.map(run => run.id).join(', ')} are not ${selection.typeProcess} runs`,
          [{ path: 'typeProcess', message: `run(s) ${other.map(run => run.id).join(', ')} do not match` }],
        );
      }
    }
  } else {
    chosen = runs
      .list({ notebookPath: selection.notebookPath, typeProcess: selection.typeProcess })
      .filter(run => run.status !== 'open');
    if (chosen.length === 0) {
      const what = selection.typeProcess ? `${selection.typeProcess} ` : '';
      throw new HttpError(404, 'not_found', `no closed ${what}runs for notebook ${selection.notebookPath}`);
    }
  }
  return [...chosen].sort((a, b) => byIso(a.startedAt, b.startedAt));
}

/** Runs whose record PNAV may receive: failed and interrupted ones only when asked (the columns carry no status). */
export function recordable(runs: Run[], recordFailed: boolean): { runs: Run[]; excludedRunIds: string[] } {
  if (recordFailed) return { runs, excludedRunIds: [] };
  const kept = runs.filter(run => run.status === 'ok');
  return { runs: kept, excludedRunIds: runs.filter(run => run.status !== 'ok').map(run => run.id) };
}

/** The runs of a PNAV record or submission; a selection of failed runs only is refused, saying how to include them. */
function recordRuns(deps: PnavRouterDeps, body: Selection & { recordFailed: boolean }) {
  const picked = recordable(selectRuns(deps.runs, body), body.recordFailed);
  if (picked.runs.length === 0) {
    throw new HttpError(
      409,
      'conflict',
      `every selected run failed or was interrupted (${picked.excludedRunIds.join(', ')}); they are not recorded for PNAV unless recordFailed is true`,
    );
  }
  return picked;
}

function byType(runs: Run[]): Map<TypeProcess, Run[]> {
  const groups = new Map<TypeProcess, Run[]>();
  for (const run of runs) groups.set(run.typeProcess, [...(groups.get(run.typeProcess) ?? []), run]);
  return groups;
}

function attachment(res: express.Response, format: keyof typeof ExportFormatContentType, name: string, body: string) {
  res.setHeader('Content-Type', ExportFormatContentType[format]);
  res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
  res.send(body);
}

/** Errors of these routes in the API envelope, whatever app they are mounted in. */
const envelope: ErrorRequestHandler = (err, _req, res, next) => {
  if (err instanceof HttpError && !res.headersSent) {
    res.status(err.status).json(err.toBody());
    return;
  }
  next(err);
};

export function createPnavRouter(deps: PnavRouterDeps): Router {
  const router = express.Router();

  router.post('/exports', (req, res) => {
    const body = parseOr400(ExportRequestSchema, req.body);
    // The JSON export is the project's own record of everything; CSV and BoAmps are PNAV's formats.
    const runs = body.format === 'json' ? selectRuns(deps.runs, body) : recordRuns(deps, body).runs;
    const hardware = deps.hardware();
    const groups = byType(runs);
    const units = body.aggregate || body.format === 'boamps' ? [...groups.values()].map(aggregateRuns) : runs;
    const single = groups.size === 1 ? [...groups.keys()][0] : null;
    if (body.format === 'csv') {
      const lines = [PNAV_HEADER, ...units.map(run => csvLine(csvCells(runToRecord(run, hardware))))];
      attachment(res, 'csv', single ? `emissions_${single}.csv` : 'emissions.csv', `${lines.join('\n')}\n`);
    } else if (body.format === 'json') {
      // calculadorapnav's record, plus how each of its figures was obtained (the methods CSV's rows).
      const records = units.map(
        run => `${pyJson(runToRecord(run, hardware)).slice(0, -1)}, "methods": ${JSON.stringify(methodObjects(run))}}`,
      );
      attachment(res, 'json', single ? `pnav_${single}.json` : 'pnav.json', `[${records.join(', ')}]`);
    } else {
      if (units.length > 1) {
        throw new HttpError(
          400,
          'bad_request',
          'typeProcess: a BoAmps report covers one process type; choose training or inference',
          [{ path: 'typeProcess', message: 'required when the runs mix training and inference' }],
        );
      }
      const report = runToBoamps(units[0], hardware, { toolVersion: deps.version });
      attachment(res, 'boamps', `boamps_report_${units[0].id}.json`, JSON.stringify(report, null, 2));
    }
  });

  router.post('/records/preview', (req, res) => {
    const body = parseOr400(PreviewRequestSchema, req.body);
    const { runs, excludedRunIds } = recordRuns(deps, body);
    const run = aggregateRuns(runs);
    const record = runToRecord(run, deps.hardware(), body.modelId ? { modelId: body.modelId } : {});
    // The location says which country and where it came from, and which factors gave the figures.
    res.json({ record, runIds: runs.map(r => r.id), excludedRunIds, location: run.location });
  });

  router.post('/uploads', async (req, res) => {
    const body = parseOr400(UploadRequestSchema, req.body);
    const { runs, excludedRunIds } = recordRuns(deps, body);
    const record = runToRecord(aggregateRuns(runs), deps.hardware(), { modelId: body.modelId });
    const input = {
      endpointUrl: body.endpointUrl,
      token: body.token,
      modelId: body.modelId,
      typeProcess: body.typeProcess,
      notebookPath: body.notebookPath ?? runs[0].notebookPath,
      runIds: runs.map(run => run.id),
      body: pyJson(record),
    };
    // The same record already sent or on its way there: say so (200, `duplicate`) instead of
    // queuing it again; `resend: true` sends it once more on purpose.
    const twin = body.resend ? undefined : await deps.outbox.twin(input);
    if (twin) {
      res.status(200).json({ uploads: [twin], duplicate: true, excludedRunIds });
      return;
    }
    const upload = await deps.outbox.enqueue(input, { resend: body.resend });
    res.status(202).json({ uploads: [upload], duplicate: false, excludedRunIds });
  });

  const outboxAction = async (res: express.Response, action: () => Promise<unknown>) => {
    try {
      res.json({ upload: await action() });
    } catch (error) {
      if (!(error instanceof OutboxError)) throw error;
      const status = { not_found: 404, conflict: 409, bad_request: 400 }[error.code];
      const issues =
        error.code === 'bad_request' ? [{ path: 'token', message: 'required to send a failed upload again' }] : [];
      throw new HttpError(status, error.code, error.message, issues);
    }
  };

  router.post('/uploads/:id/cancel', async (req, res) => {
    await outboxAction(res, () => deps.outbox.cancel(req.params.id));
  });

  router.post('/uploads/:id/retry', async (req, res) => {
    const body = parseOr400(RetryUploadRequestSchema, req.body ?? {});
    await outboxAction(res, () => deps.outbox.retry(req.params.id, body.token));
  });

  // The outbox reads its entries from disk once, asynchronously, at start: wait for that, or an upload
  // queued before a restart answers 404 (and is missing from lists) for the first moments after it.
  router.get('/uploads', async (req, res) => {
    const query = parseOr400(UploadsQuerySchema, req.query, 'query');
    await deps.outbox.load();
    res.json({ uploads: deps.outbox.list(query) });
  });

  // `?waitMs=N`: answers once the upload has its first outcome (sent, failed, retrying, uncertain) or after N ms,
  // so a client can tell its user what happened, as calculadorapnav's synchronous POST does.
  router.get('/uploads/:id', async (req, res) => {
    const { waitMs } = parseOr400(UploadWaitQuerySchema, req.query, 'query');
    await deps.outbox.load();
    if (!deps.outbox.get(req.params.id)) throw new HttpError(404, 'not_found', `upload ${req.params.id} not found`);
    const upload = waitMs ? await deps.outbox.waitForOutcome(req.params.id, waitMs) : deps.outbox.get(req.params.id);
    res.json({ upload });
  });

  router.use(envelope);
  return router;
}
