/**
 * The sidecar proves it holds the token without sending it: GET /healthz?challenge=<nonce> answers
 * HMAC-SHA256(token, PREFIX + nonce). A client checks that before a request that carries the token,
 * so a process squatting on a dead sidecar's port (another user's) learns nothing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

const PROOF_PREFIX = 'pnav-sidecar-healthz:';
/** Hex nonces from 32 to 128 characters; anything else is refused before any HMAC is computed. */
export const CHALLENGE_PATTERN = /^[0-9a-f]{32,128}$/;

export function proofFor(token: string, challenge: string): string {
  return createHmac('sha256', token)
    .update(PROOF_PREFIX + challenge)
    .digest('hex');
}

export function newChallenge(): string {
  return randomBytes(32).toString('hex');
}

export function proofMatches(token: string, challenge: string, proof: unknown): boolean {
  if (typeof proof !== 'string' || !/^[0-9a-f]{64}$/.test(proof)) return false;
  return timingSafeEqual(Buffer.from(proofFor(token, challenge), 'hex'), Buffer.from(proof, 'hex'));
}

/** Loopback http:// URLs only: a token never travels to another host, or in clear over a network. */
export function loopbackUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a URL`;
  }
  if (parsed.protocol !== 'http:') return `'${url}' is not an http:// URL`;
  const host = parsed.hostname.toLowerCase();
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return loopback ? null : `'${url}' is not a loopback address`;
}

/**
 * Asks `url` to prove it holds `token`; resolves with why not (null when it did). The token itself is
 * never sent. CLI callers check right before their requests: between the two, a port freed by a
 * dying sidecar could only be taken within that one loopback round trip.
 */
export function challengeSidecar(url: string, token: string, timeoutMs = 2000): Promise<string | null> {
  const problem = loopbackUrlProblem(url);
  if (problem) return Promise.resolve(problem);
  const challenge = newChallenge();
  return new Promise(resolve => {
    const req = http.get(`${url.replace(/\/+$/, '')}/healthz?challenge=${challenge}`, { timeout: timeoutMs }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > 65_536) req.destroy(new Error('answer too long'));
      });
      res.on('end', () => {
        let proof: unknown;
        try {
          proof = (JSON.parse(body) as { proof?: unknown }).proof;
        } catch {
          return resolve(`${url} answered /healthz with something that is not the sidecar's JSON`);
        }
        resolve(proofMatches(token, challenge, proof) ? null : `${url} did not prove it holds this sidecar's token`);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', err => resolve(`${url} did not answer: ${err.message}`));
  });
}
