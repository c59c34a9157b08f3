/**
 * The two requests every measured cell makes, open and close a run, answered before express's
 * router: a profile of the open→close round trip showed express's routing and response helpers
 * (not our work) as half of the server's time. Everything that decides the answer is shared with
 * the express app: the Host/Origin/token guard, a body parser built with the same options, the same
 * zod validation and route actions (runs-routes.ts), the same error mapping and envelope.
 * Anything unusual (another method or path, a query string, an encoded or odd run id, a trailing
 * slash, different letter case) is left to express. hot-routes.test.ts sends both the same
 * requests and compares the answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { API_PREFIX } from '../api/schemas.js';
import { jsonBodyParser, logServerError, toHttpError } from './app.js';
import { checkHostAndOrigin, checkToken } from './guard.js';
import { closeRunAction, openRunAction, type RunsRoutesDeps } from './runs-routes.js';

export interface HotRoutesDeps extends RunsRoutesDeps {
  token: string;
  bodyLimit: string;
}

/** Handles the request when it is one of the hot routes (returns true), else leaves it untouched. */
export type HotRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

const OPEN_PATH = `${API_PREFIX}/runs`;
const CLOSE_PATH = new RegExp(`^${API_PREFIX}/runs/([A-Za-z0-9_-]{1,200})/close$`);

export function createHotRoutes(deps: HotRoutesDeps): HotRoutes {
  const parseBody = jsonBodyParser(deps.bodyLimit) as unknown as (
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: unknown) => void,
  ) => void;

  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => {
    const e = toHttpError(err, deps.bodyLimit);
    logServerError(deps.log, `${req.method} ${req.url}`, e, err);
    send(res, e.status, e.toBody(), e.retryAfterS);
  };

  return (req, res) => {
    if (req.method !== 'POST' || !req.url) return false;
    let closeId: string | null = null;
    if (req.url !== OPEN_PATH) {
      const m = CLOSE_PATH.exec(req.url);
      if (!m) return false;
      closeId = m[1]!;
    }
    try {
      checkHostAndOrigin(req.headers, req.socket.localPort ?? 0);
      checkToken(req.headers.authorization, deps.token);
    } catch (err) {
      fail(req, res, err);
      return true;
    }
    parseBody(req, res, parseErr => {
      if (parseErr) {
        fail(req, res, parseErr);
        return;
      }
      const body = (req as IncomingMessage & { body?: unknown }).body;
      if (closeId === null) {
        try {
          send(res, 201, openRunAction(deps.ledger, body));
        } catch (err) {
          fail(req, res, err);
        }
        return;
      }
      closeRunAction(deps, closeId, body).then(
        answer => send(res, 200, answer),
        err => fail(req, res, err),
      );
    });
    return true;
  };
}

/** What express's res.status(n).json(body) writes: the same bytes and headers. */
function send(res: ServerResponse, status: number, body: unknown, retryAfterS?: number): void {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    ...(retryAfterS !== undefined && { 'Retry-After': String(retryAfterS) }),
  });
  res.end(json);
}
