/**
 * The express app of the sidecar, built apart from `listen` so tests serve it on port 0.
 * Order: Host/Origin check, bearer token, JSON body (with a size limit), routes, 404, errors.
 */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { HttpError, storageError } from '../api/errors.js';
import { API_PREFIX, SamplesQuerySchema, type SourceInfo, type Status } from '../api/schemas.js';
import { parseOr400 } from '../api/validate.js';
import { type Ledger, LedgerError } from '../ledger/ledger.js';
import type { SidecarMetrics } from '../metrics/metrics.js';
import type { PnavOutputs } from '../outputs/index.js';
import type { SampleBuffer } from '../sampler/sample-buffer.js';
import { type ConfigRouterOptions, createConfigRouter } from '../settings/router.js';
import { checkHostAndOrigin, checkToken } from './guard.js';
import { CHALLENGE_PATTERN, proofFor } from './proof.js';
import { runsRouter } from './runs-routes.js';

export interface AppDeps {
  token: string;
  version: string;
  ledger: Ledger;
  samples: SampleBuffer;
  status: () => Status;
  doctor: () => Promise<{ sources: SourceInfo[]; measuredAvailable: boolean }>;
  metrics: SidecarMetrics;
  /** Serve /metrics without the token (still loopback and Host-checked). */
  metricsPublic?: boolean;
  outputs: PnavOutputs;
  /** GET/PUT /api/v1/config: settings files and the sidecar's own flags. */
  settings?: ConfigRouterOptions;
  /** Largest JSON body accepted (body-parser syntax). */
  bodyLimit?: string;
  log?: (msg: string) => void;
}

export const DEFAULT_BODY_LIMIT = '1mb';

function isChallenge(path: string, query: unknown): boolean {
  return path === '/healthz' && typeof query === 'object' && query !== null && 'challenge' in query;
}

export function createApp(deps: AppDeps): express.Express {
  const log = deps.log ?? (() => {});
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const guard: RequestHandler = (req, _res, next) => {
    checkHostAndOrigin(req.headers, req.socket.localPort ?? 0);
    // The challenge is answered without the token: a client asks it before trusting us with the token.
    const publicPath = (deps.metricsPublic && req.path === '/metrics') || isChallenge(req.path, req.query);
    if (!publicPath) checkToken(req.headers.authorization, deps.token);
    next();
  };
  app.use(guard);
  app.use(jsonBodyParser(bodyLimit));

  // `?challenge=<hex nonce>`: the answer proves this process holds the token (proof.ts).
  app.get('/healthz', (req, res) => {
    const challenge = req.query.challenge;
    if (challenge === undefined) return void res.json({ ok: true, version: deps.version });
    if (typeof challenge !== 'string' || !CHALLENGE_PATTERN.test(challenge)) {
      throw new HttpError(400, 'bad_request', 'challenge: must be 32 to 128 lowercase hexadecimal characters');
    }
    res.json({ ok: true, version: deps.version, proof: proofFor(deps.token, challenge) });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // The generator (and its zod extension) is loaded on the first request only: most sidecars never get one.
  let openapi: Promise<string> | null = null;
  app.get(`${API_PREFIX}/openapi.json`, async (_req, res) => {
    openapi ??= import('./openapi.js').then(m => m.buildOpenApi(deps.version)).then(doc => JSON.stringify(doc));
    try {
      res.type('application/json').send(await openapi);
    } catch (err) {
      openapi = null; // a later request tries again
      throw err;
    }
  });
  app.get(`${API_PREFIX}/status`, (_req, res) => {
    res.json(deps.status());
  });
  app.get(`${API_PREFIX}/doctor`, async (_req, res) => {
    res.json(await deps.doctor());
  });
  app.get(`${API_PREFIX}/samples`, (req, res) => {
    const query = parseOr400(SamplesQuerySchema, req.query, 'query');
    res.json({ samples: deps.samples.since(query.sinceMs) });
  });
  app.use(API_PREFIX, runsRouter({ ledger: deps.ledger, outputs: deps.outputs, log }));
  app.use(API_PREFIX, deps.outputs.router);
  app.use(API_PREFIX, createConfigRouter(deps.settings));

  app.use((req, _res, next) => {
    next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`));
  });
  app.use(errorHandler(bodyLimit, log));
  return app;
}

/** The app's body parser (hot-routes.ts uses the same, so both answer a bad body alike). */
export function jsonBodyParser(bodyLimit: string): RequestHandler {
  // Every body is JSON whatever its Content-Type says: a wrong one gets a clear 400, not a silent {}.
  // strict: false lets `null` or `1` through to validation, which answers "body: expected an object".
  return express.json({ limit: bodyLimit, type: () => true, strict: false });
}

/** Maps every error to the envelope; a client's mistake is always a 4xx, internals never leak. */
function errorHandler(bodyLimit: string, log: (msg: string) => void): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = toHttpError(err, bodyLimit);
    logServerError(log, `${req.method} ${req.path}`, e, err);
    if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
    res.status(e.status).json(e.toBody());
  };
}

/** 5xx answers go to the log: the stack of a bug, one line for a data dir that cannot be written. */
export function logServerError(log: (msg: string) => void, where: string, e: HttpError, err: unknown): void {
  if (e.code === 'storage_unavailable') log(`${where}: ${e.message}: ${(err as Error).message}`);
  else if (e.status >= 500) log(`internal error on ${where}: ${(err as Error)?.stack ?? String(err)}`);
}

export function toHttpError(err: unknown, bodyLimit: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof LedgerError) {
    const status = err.code === 'not_found' ? 404 : err.code === 'too_many_open_runs' ? 429 : 409;
    return new HttpError(status, err.code, err.message, undefined, err.retryAfterS);
  }
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  if (e?.type === 'entity.too.large')
    return new HttpError(413, 'payload_too_large', `request body is larger than ${bodyLimit}`);
  if (e?.type === 'entity.parse.failed')
    return new HttpError(400, 'bad_request', `(body): malformed JSON: ${e.message}`);
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser's own client errors (bad charset, aborted request): safe, short messages.
    return new HttpError(status, status === 404 ? 'not_found' : 'bad_request', e.message ?? 'bad request');
  }
  const storage = storageError(err);
  if (storage) return storage;
  return new HttpError(500, 'internal', 'internal error (details are in the sidecar log)');
}
