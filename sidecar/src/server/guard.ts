/**
 * Who may talk to the sidecar: the Host header must name a loopback host with our port
 * (refuses DNS rebinding), an Origin, when sent, must be that same loopback origin, and the
 * bearer token must match (constant-time). Shared by HTTP requests and WebSocket upgrades.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../api/errors.js';

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Splits 'name:port' (name may be a bracketed IPv6 literal). */
function splitHost(host: string): { name: string; port: string | null } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  if (!m) return { name: '', port: null };
  return { name: m[1]!, port: m[2] ?? null };
}

function isLoopbackAuthority(name: string, port: string | null, localPort: number, defaultPort: number): boolean {
  if (!LOOPBACK_NAMES.has(name)) return false;
  return Number(port ?? defaultPort) === localPort;
}

/** Throws 403 forbidden_host / forbidden_origin. */
export function checkHostAndOrigin(headers: IncomingHttpHeaders, localPort: number): void {
  const host = headers.host;
  if (!host) throw new HttpError(403, 'forbidden_host', 'Host header is required');
  const { name, port } = splitHost(host);
  if (!isLoopbackAuthority(name, port, localPort, 80)) {
    throw new HttpError(403, 'forbidden_host', `Host '${host}' is not this sidecar's loopback address`);
  }
  const origin = headers.origin;
  if (origin === undefined) return;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new HttpError(403, 'forbidden_origin', `Origin '${origin}' is not allowed`);
  }
  const scheme = url.protocol;
  const ok =
    (scheme === 'http:' || scheme === 'ws:') &&
    isLoopbackAuthority(url.hostname.toLowerCase(), url.port === '' ? null : url.port, localPort, 80);
  if (!ok) throw new HttpError(403, 'forbidden_origin', `Origin '${origin}' is not allowed`);
}

/** Constant-time comparison of the bearer token (hashing first makes the lengths equal). */
export function tokenMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return false;
  const given = createHash('sha256').update(m[1]!).digest();
  return timingSafeEqual(given, digestOf(token));
}

// The sidecar has one token: its digest is computed once, not on every request.
let lastToken: string | null = null;
let lastDigest: Buffer | null = null;
function digestOf(token: string): Buffer {
  if (token !== lastToken || !lastDigest) {
    lastDigest = createHash('sha256').update(token).digest();
    lastToken = token;
  }
  return lastDigest;
}

/** Throws 401 unauthorized when the token is missing or wrong. */
export function checkToken(authorization: string | undefined, token: string): void {
  if (!authorization) throw new HttpError(401, 'unauthorized', 'missing Authorization: Bearer <token> header');
  if (!tokenMatches(authorization, token)) throw new HttpError(401, 'unauthorized', 'invalid bearer token');
}
