/**
 * A local PNAV endpoint for tests and demos (`pnav mock-pnav`). It accepts calculadorapnav
 * submissions on any path (POST), validates them with the record schema, answers like a
 * real API (201, or 400/401 with a message), can be told to fail or be slow, dedupes on
 * Idempotency-Key, and lists what it received with the token value redacted.
 */
import express, { type Express } from 'express';
import { z } from 'zod';
import { keyOrderIssue, PnavRecordSchema } from '../schemas.js';
import { issuesOf, TOKEN_PATTERN } from '../validate.js';

export interface ReceivedRequest {
  at: string;
  method: string;
  path: string;
  /** Lower-case names in arrival order; the bearer token's value is replaced by its shape. */
  headers: Record<string, string>;
  rawBody: string;
  status: number;
  duplicate: boolean;
  idempotencyKey: string | null;
}

export const MockControlSchema = z.object({
  failNext: z.number().int().min(0).max(1000).optional(),
  status: z.number().int().min(400).max(599).default(503),
  retryAfterS: z.number().int().min(0).max(86_400).optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  reset: z.boolean().optional(),
});

export interface MockPnavOptions {
  /** When set, only this token is accepted (401 otherwise); else any 64-hex token. */
  token?: string;
}

export function createMockPnavApp(options: MockPnavOptions = {}): Express {
  const app = express();
  const received: ReceivedRequest[] = [];
  const delivered = new Map<string, number>(); // idempotency key → first accepted index
  let failNext = 0;
  let failStatus = 503;
  let retryAfterS: number | undefined;
  let delayMs = 0;

  app.post('/__control', express.json(), (req, res) => {
    const parsed = MockControlSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ message: 'invalid control request', issues: issuesOf(parsed.error) });
      return;
    }
    const c = parsed.data;
    if (c.reset) {
      received.length = 0;
      delivered.clear();
      failNext = 0;
      delayMs = 0;
      retryAfterS = undefined;
    }
    if (c.failNext !== undefined) {
      failNext = c.failNext;
      failStatus = c.status;
      retryAfterS = c.retryAfterS;
    }
    if (c.delayMs !== undefined) delayMs = c.delayMs;
    res.json({ failNext, status: failStatus, retryAfterS: retryAfterS ?? null, delayMs });
  });

  app.get('/__received', (_req, res) => {
    res.json({ received, accepted: received.filter(r => r.status === 201 && !r.duplicate).length });
  });

  app.post(/^(?!\/__).*/, express.text({ type: () => true, limit: '1mb' }), async (req, res) => {
    const rawBody = typeof req.body === 'string' ? req.body : '';
    const auth = req.get('authorization') ?? '';
    const bearer = /^Bearer (.*)$/.exec(auth)?.[1] ?? null;
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      headers[name] =
        name === 'authorization'
          ? `Bearer <redacted: ${bearer?.length ?? 0} chars, ${bearer && TOKEN_PATTERN.test(bearer) ? '' : 'not '}64 lowercase hex>`
          : req.rawHeaders[i + 1];
    }
    const idempotencyKey = req.get('idempotency-key') ?? null;
    const entry: ReceivedRequest = {
      at: new Date().toISOString(),
      method: req.method,
      path: req.originalUrl,
      headers,
      rawBody,
      status: 0,
      duplicate: false,
      idempotencyKey,
    };
    received.push(entry);
    const answer = (status: number, body: object) => {
      entry.status = status;
      res.status(status).json(body);
    };
    if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs));
    if (failNext > 0) {
      failNext -= 1;
      if (retryAfterS !== undefined) res.setHeader('Retry-After', String(retryAfterS));
      answer(failStatus, { message: `mock PNAV told to fail with ${failStatus}` });
      return;
    }
    if (!bearer || !TOKEN_PATTERN.test(bearer) || (options.token !== undefined && bearer !== options.token)) {
      answer(401, { message: 'invalid or missing token' });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      answer(400, { message: 'body is not JSON' });
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      answer(400, { message: 'body must be a JSON object with the 40 calculadorapnav keys' });
      return;
    }
    const orderIssue = keyOrderIssue(body);
    if (orderIssue) {
      answer(400, { message: orderIssue });
      return;
    }
    const parsed = PnavRecordSchema.safeParse(body);
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      answer(400, { message: issues.map(i => `${i.path}: ${i.message}`).join('; '), issues });
      return;
    }
    if (idempotencyKey && delivered.has(idempotencyKey)) {
      entry.duplicate = true;
      answer(200, { message: 'duplicate: already received with this Idempotency-Key', duplicate: true });
      return;
    }
    if (idempotencyKey) delivered.set(idempotencyKey, received.length - 1);
    answer(201, { message: 'created', id: received.length });
  });

  return app;
}
