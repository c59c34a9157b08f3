/**
 * One attempt at sending a record the way calculadorapnav's online mode does: POST to exactly
 * the endpoint URL, `Authorization: Bearer <token>`, a JSON body with the 40 keys, 10 s
 * timeout, 200/201 is success. Plus an `Idempotency-Key` that stays the same across
 * retries. The outcome says whether to retry; messages never contain the token.
 */

export const SEND_TIMEOUT_MS = 10_000;
const MAX_MESSAGE_CHARS = 300;

export type SendOutcome =
  | { kind: 'sent'; httpStatus: number }
  | {
      kind: 'retry';
      httpStatus: number | null;
      message: string;
      retryAfterMs: number | null;
      /** No answer in time: the server may have received and processed the record. */
      timedOut?: boolean;
    }
  | { kind: 'failed'; httpStatus: number; message: string };

export interface SendRequest {
  endpointUrl: string;
  token: string;
  idempotencyKey: string;
  /** The exact body bytes (py-format.ts `pyJson`). */
  body: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** `Retry-After` as seconds or an HTTP-date → milliseconds from `now`, or null. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return null;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Removes every occurrence of the token, then truncates. */
export function scrub(text: string, token: string): string {
  const clean = token ? text.split(token).join('[token]') : text;
  const oneLine = clean.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_MESSAGE_CHARS ? `${oneLine.slice(0, MAX_MESSAGE_CHARS)}…` : oneLine;
}

/** The server's own words: a JSON `message`/`detail`/`error`, else the body text. */
function serverMessage(status: number, body: string, token: string): string {
  let message = body;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const pick = [parsed.message, parsed.detail, parsed.error, (parsed.error as { message?: unknown })?.message].find(
      v => typeof v === 'string',
    );
    if (typeof pick === 'string') message = pick;
    else if (parsed.detail !== undefined) message = JSON.stringify(parsed.detail);
  } catch {
    // not JSON: the text itself
  }
  const text = scrub(message, token);
  return text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}

function isTimeout(error: unknown): boolean {
  const e = error as { name?: string; code?: string };
  return e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT';
}

function networkMessage(error: unknown, token: string, timeoutMs: number): string {
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (isTimeout(error)) return `no answer within ${timeoutMs / 1000} s (timeout)`;
  const code = e?.cause?.code ?? e?.code;
  const detail = e?.cause?.message ?? e?.message ?? String(error);
  return scrub(code && !detail.includes(code) ? `${code}: ${detail}` : detail, token);
}

export async function sendRecord(req: SendRequest): Promise<SendOutcome> {
  const timeoutMs = req.timeoutMs ?? SEND_TIMEOUT_MS;
  const signals = [AbortSignal.timeout(timeoutMs), ...(req.signal ? [req.signal] : [])];
  try {
    // undici is loaded at the first submission: most sidecars never submit (~5 MB of heap).
    const { request } = await import('undici');
    const response = await request(req.endpointUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${req.token}`,
        'content-type': 'application/json',
        'idempotency-key': req.idempotencyKey,
      },
      body: req.body,
      signal: AbortSignal.any(signals),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    const status = response.statusCode;
    if (status === 200 || status === 201) return { kind: 'sent', httpStatus: status };
    const message = serverMessage(status, text, req.token);
    if (status >= 500 || status === 429 || status === 408) {
      return {
        kind: 'retry',
        httpStatus: status,
        message,
        retryAfterMs: parseRetryAfter(response.headers['retry-after']),
      };
    }
    // Other answers (4xx, and 2xx/3xx that are not calculadorapnav's success) will not change on a retry.
    return { kind: 'failed', httpStatus: status, message };
  } catch (error) {
    // Our own stop() aborting the request is not a timeout: the caller resumes it at the next start.
    const timedOut = isTimeout(error) && !req.signal?.aborted;
    return {
      kind: 'retry',
      httpStatus: null,
      message: networkMessage(error, req.token, timeoutMs),
      retryAfterMs: null,
      ...(timedOut && { timedOut }),
    };
  }
}

/** What the user should fix after a final refusal: the server's status in the user's terms. */
export function fixForStatus(status: number): string {
  if (status === 401 || status === 403) {
    return 'the PNAV server refused the token: check token= / PNAV_TOKEN (the token of the provider profile on the PNAV web site)';
  }
  if (status === 404 || status === 405) return 'the endpoint URL is not a PNAV submission endpoint: check endpoint_url';
  if (status === 400 || status === 409 || status === 422) {
    return "the PNAV server refused the record: check model_id (the model's id registered on the PNAV web site) and the server's message";
  }
  return 'the PNAV server refused the record; sending it again will not change that';
}
