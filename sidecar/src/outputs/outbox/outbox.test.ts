import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../../test-support/make-run.js';
import { type MockEndpoint, startMockEndpoint, waitFor } from '../../../test-support/mock-endpoint.js';
import { pyJson } from '../py-format.js';
import { runToRecord } from '../record.js';
import { Outbox } from './outbox.js';
import { parseRetryAfter } from './submit.js';

const TOKEN = '0123456789abcdef'.repeat(4);
const MODEL_ID = 'c'.repeat(64);

let dir: string;
let logs: string[];
let endpoint: MockEndpoint | null;
const outboxes: Outbox[] = [];

function newOutbox(extra: Partial<ConstructorParameters<typeof Outbox>[0]> = {}): Outbox {
  const outbox = new Outbox({ dir: path.join(dir, 'outbox'), log: m => logs.push(m), baseDelayMs: 20, ...extra });
  outboxes.push(outbox);
  return outbox;
}

function input(endpointUrl: string, id = 'run-1') {
  const record = runToRecord(makeRun({ id }), HARDWARE, { modelId: MODEL_ID });
  return {
    endpointUrl,
    token: TOKEN,
    modelId: MODEL_ID,
    typeProcess: 'training' as const,
    notebookPath: 'nb.ipynb',
    runIds: [id],
    body: pyJson(record),
  };
}

function entryFile(id: string): string {
  return path.join(dir, 'outbox', `${id}.json`);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pnav-outbox-'));
  logs = [];
  endpoint = null;
});
afterEach(async () => {
  for (const outbox of outboxes.splice(0)) await outbox.stop();
  await endpoint?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the durable outbox', () => {
  it('persists the record (0600 in a 0700 dir) before sending, sends it once, then forgets the token', async () => {
    endpoint = await startMockEndpoint();
    const outbox = newOutbox();
    const upload = await outbox.enqueue(input(endpoint.url));
    expect(upload.status).toBe('queued');
    const stored = JSON.parse(readFileSync(entryFile(upload.id), 'utf8'));
    expect(stored.token).toBe(TOKEN); // kept until sent: a restart must still be able to send it
    expect(statSync(entryFile(upload.id)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'outbox')).mode & 0o777).toBe(0o700);
    outbox.start();
    const sent = await waitFor(() => (outbox.get(upload.id)?.status === 'sent' ? outbox.get(upload.id) : undefined));
    expect(sent.attempts).toBe(1);
    expect(sent.lastHttpStatus).toBe(201);
    expect(JSON.parse(readFileSync(entryFile(upload.id), 'utf8')).token).toBeNull();
    expect(readFileSync(entryFile(upload.id), 'utf8')).not.toContain(TOKEN);
    const { received } = await endpoint.received();
    expect(received).toHaveLength(1);
    expect(received[0].method).toBe('POST');
    expect(received[0].path).toBe('/v1/emissions');
    expect(received[0].headers['content-type']).toBe('application/json');
    expect(received[0].headers['idempotency-key']).toBe(upload.id);
    expect(received[0].headers.authorization).toBe('Bearer <redacted: 64 chars, 64 lowercase hex>');
    expect(received[0].rawBody).toBe(input(endpoint.url).body);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('endpoint down, then up: retried until delivered, exactly once', async () => {
    const probe = await startMockEndpoint();
    const { port, url } = probe;
    await probe.close(); // nothing listens on this port now
    const outbox = newOutbox();
    outbox.start();
    const upload = await outbox.enqueue(input(url));
    const failing = await waitFor(() => {
      const u = outbox.get(upload.id);
      return u && u.attempts >= 2 ? u : undefined;
    });
    expect(failing.status).toMatch(/retrying|sending/);
    expect(failing.lastError).toContain('ECONNREFUSED');
    endpoint = await startMockEndpoint(port);
    await waitFor(() => (outbox.get(upload.id)?.status === 'sent' ? true : undefined));
    const { received, accepted } = await endpoint.received();
    expect(accepted).toBe(1);
    expect(received).toHaveLength(1);
  });

  it('500 then 201: retried with the same Idempotency-Key', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ failNext: 1, status: 500 });
    const outbox = newOutbox();
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const sent = await waitFor(() => (outbox.get(upload.id)?.status === 'sent' ? outbox.get(upload.id) : undefined));
    expect(sent.attempts).toBe(2);
    const { received } = await endpoint.received();
    expect(received.map(r => r.status)).toEqual([500, 201]);
    expect(received[0].idempotencyKey).toBe(received[1].idempotencyKey);
  });

  it('429 with Retry-After: 1 waits at least one second (back-off alone would retry in ~20 ms)', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ failNext: 1, status: 429, retryAfterS: 1 });
    const outbox = newOutbox();
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const waiting = await waitFor(() =>
      outbox.get(upload.id)?.status === 'retrying' ? outbox.get(upload.id) : undefined,
    );
    expect(waiting.lastHttpStatus).toBe(429);
    await waitFor(() => (outbox.get(upload.id)?.status === 'sent' ? true : undefined));
    const { received } = await endpoint.received();
    expect(received.map(r => r.status)).toEqual([429, 201]);
    expect(Date.parse(received[1].at) - Date.parse(received[0].at)).toBeGreaterThanOrEqual(950);
  });

  it('401 stops for good with the server message, and the token is deleted', async () => {
    endpoint = await startMockEndpoint(0, { token: 'f'.repeat(64) });
    const outbox = newOutbox();
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const failed = await waitFor(() =>
      outbox.get(upload.id)?.status === 'failed' ? outbox.get(upload.id) : undefined,
    );
    expect(failed.lastError).toBe('HTTP 401: invalid or missing token');
    expect(failed.fix).toBe(
      'the PNAV server refused the token: check token= / PNAV_TOKEN (the token of the provider profile on the PNAV web site)',
    );
    expect(failed.attempts).toBe(1);
    expect(JSON.parse(readFileSync(entryFile(upload.id), 'utf8')).token).toBeNull();
    await new Promise(resolve => setTimeout(resolve, 100));
    expect((await endpoint.received()).received).toHaveLength(1);
  });

  it('a new outbox on the same directory (a restarted sidecar) sends what the old one left queued', async () => {
    endpoint = await startMockEndpoint();
    const before = newOutbox();
    const upload = await before.enqueue(input(endpoint.url)); // never started: as if killed right after queueing
    await before.stop();
    expect((await endpoint.received()).received).toHaveLength(0);
    const after = newOutbox();
    after.start();
    await waitFor(() => (after.get(upload.id)?.status === 'sent' ? true : undefined));
    expect((await endpoint.received()).accepted).toBe(1);
  });

  it('an entry a crash left "sending" is resent with its Idempotency-Key and the server dedupes it', async () => {
    endpoint = await startMockEndpoint();
    const first = newOutbox();
    first.start();
    const upload = await first.enqueue(input(endpoint.url));
    await waitFor(() => (first.get(upload.id)?.status === 'sent' ? true : undefined));
    await first.stop();
    // Simulate a crash after the POST but before "sent" was recorded.
    const file = entryFile(upload.id);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify({ ...stored, status: 'sending', token: TOKEN, sentAt: null }));
    const second = newOutbox();
    second.start();
    await waitFor(() => (second.get(upload.id)?.status === 'sent' ? true : undefined));
    const { received, accepted } = await endpoint.received();
    expect(received).toHaveLength(2);
    expect(received[1].duplicate).toBe(true);
    expect(accepted).toBe(1);
  });

  it('does not queue the same record to the same endpoint twice', async () => {
    const outbox = newOutbox();
    const a = await outbox.enqueue(input('http://127.0.0.1:9/x'));
    const b = await outbox.enqueue(input('http://127.0.0.1:9/x'));
    expect(b.id).toBe(a.id);
    const c = await outbox.enqueue(input('http://127.0.0.1:9/x', 'run-2'));
    expect(c.id).not.toBe(a.id);
    expect(readdirSync(path.join(dir, 'outbox')).filter(n => n.endsWith('.json'))).toHaveLength(2);
    expect(outbox.list({ notebookPath: 'nb.ipynb' })).toHaveLength(2);
    expect(outbox.list({ notebookPath: 'other.ipynb' })).toHaveLength(0);
  });

  it('a slow endpoint times out and is retried', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ delayMs: 400 });
    const outbox = newOutbox({ timeoutMs: 150 });
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const retrying = await waitFor(() => {
      const u = outbox.get(upload.id);
      return u?.lastError ? u : undefined;
    });
    expect(retrying.lastError).toBe('no answer within 0.15 s (timeout)');
    await endpoint.control({ delayMs: 0 });
    await waitFor(() => (outbox.get(upload.id)?.status === 'sent' ? true : undefined));
  });
});

// A 15 s-slow server against calculadorapnav's 10 s timeout, scaled down: 375 ms against 250 ms.
const SLOW = { timeoutMs: 250, serverDelayMs: 375 };

describe('timeouts without duplicates', () => {
  it('a slow endpoint: uncertain, resent with the same key and a longer timeout, one processed record', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ delayMs: SLOW.serverDelayMs });
    const outbox = newOutbox({ timeoutMs: SLOW.timeoutMs });
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const uncertain = await outbox.waitForOutcome(upload.id, 5_000);
    expect(uncertain).toMatchObject({ status: 'uncertain', lastError: 'no answer within 0.25 s (timeout)' });
    expect(uncertain?.nextAttemptAt).not.toBeNull();
    const sent = await waitFor(() => (outbox.get(upload.id)?.status === 'sent' ? outbox.get(upload.id) : undefined));
    expect(sent.attempts).toBe(2); // the second attempt waited 0.5 s: long enough
    const { received, accepted } = await endpoint.received();
    expect(accepted).toBe(1);
    expect(received.map(r => r.idempotencyKey)).toEqual([upload.id, upload.id]);
    expect(received.map(r => r.duplicate)).toEqual([false, true]);
  });

  it('a restart between the timed-out attempt and the next: the new sidecar resends with the same key', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ delayMs: SLOW.serverDelayMs });
    const before = newOutbox({ timeoutMs: SLOW.timeoutMs, baseDelayMs: 60_000 });
    before.start();
    const upload = await before.enqueue(input(endpoint.url));
    expect((await before.waitForOutcome(upload.id, 5_000))?.status).toBe('uncertain');
    await before.stop();
    const stored = JSON.parse(readFileSync(entryFile(upload.id), 'utf8'));
    expect(stored).toMatchObject({ status: 'uncertain', timeouts: 1 });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(entryFile(upload.id), JSON.stringify({ ...stored, nextAttemptAt: new Date().toISOString() }));
    const after = newOutbox({ timeoutMs: SLOW.timeoutMs });
    after.start();
    await waitFor(() => (after.get(upload.id)?.status === 'sent' ? true : undefined));
    const { received, accepted } = await endpoint.received();
    expect(accepted).toBe(1);
    expect(new Set(received.map(r => r.idempotencyKey))).toEqual(new Set([upload.id]));
  });

  it('gives up after a bounded number of unanswered attempts, still uncertain, with what to do', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ delayMs: 5_000 });
    const outbox = newOutbox({ timeoutMs: 40, maxTimeoutMs: 80, maxUncertainAttempts: 3 });
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const final = await waitFor(() => {
      const u = outbox.get(upload.id);
      return u?.status === 'uncertain' && u.nextAttemptAt === null ? u : undefined;
    });
    expect(final.attempts).toBe(3);
    expect(final.fix).toBe(
      'no attempt was answered; the PNAV server may have the record already. Check on the PNAV web site before submitting it again',
    );
    expect(JSON.parse(readFileSync(entryFile(upload.id), 'utf8')).token).toBeNull();
    expect(outbox.attemptTimeoutMs(0)).toBe(40);
    expect(outbox.attemptTimeoutMs(1)).toBe(80);
    expect(outbox.attemptTimeoutMs(5)).toBe(80);
  });

  it('waitForOutcome answers at the first outcome: a 401 is final at once', async () => {
    endpoint = await startMockEndpoint(0, { token: 'f'.repeat(64) });
    const outbox = newOutbox();
    outbox.start();
    const upload = await outbox.enqueue(input(endpoint.url));
    const outcome = await outbox.waitForOutcome(upload.id, 10_000);
    expect(outcome).toMatchObject({
      status: 'failed',
      lastHttpStatus: 401,
      lastError: 'HTTP 401: invalid or missing token',
    });
  });
});

describe('back-off and Retry-After', () => {
  it('doubles with jitter up to the ceiling', () => {
    const low = new Outbox({ dir, log: () => {}, baseDelayMs: 1000, maxDelayMs: 8000, random: () => 0 });
    const high = new Outbox({ dir, log: () => {}, baseDelayMs: 1000, maxDelayMs: 8000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map(n => low.backoffMs(n))).toEqual([500, 1000, 2000, 4000, 4000]);
    expect([1, 2, 3, 4, 5].map(n => high.backoffMs(n))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });

  it('reads seconds and HTTP-dates', () => {
    const now = Date.parse('2026-03-02T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Mon, 02 Mar 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 02 Mar 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
