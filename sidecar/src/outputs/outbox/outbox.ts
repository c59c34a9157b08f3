/**
 * The durable outbox of PNAV submissions. Each record is written to
 * `<dataDir>/outbox/<id>.json` (0600, directory 0700, atomic write + fsync) BEFORE any
 * send, then one worker sends the due entries one at a time:
 *   queued → sending → sent | retrying (back-off, Retry-After) | uncertain | failed.
 * `uncertain`: an attempt got no answer in time, so the server may have the record. It is sent again
 * with the same Idempotency-Key, a timeout that doubles (capped) and back-off, at most
 * `maxUncertainAttempts` unanswered times; it stays `uncertain` until an attempt is answered.
 * Exactly-once delivery needs the server to honour the key; without that a slow server may
 * process a record twice. A 4xx is final and says what to fix (`fix`).
 * The token is kept in the entry only while a send may still need it, so a record queued
 * before a restart can still be sent; it is deleted from the file once the entry is sent or
 * failed. A record marked sent is never sent again; an entry found `sending` after a crash
 * is retried with the same Idempotency-Key (the server may have received it).
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TypeProcess } from '../../api/schemas.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { byIso } from '../../util/iso-order.js';
import type { Upload, UploadStatus } from '../schemas.js';
import { fixForStatus, SEND_TIMEOUT_MS, type SendOutcome, scrub, sendRecord } from './submit.js';

interface OutboxEntry extends Upload {
  version: 1;
  /** Attempts that got no answer in time (the server may have the record): they grow the timeout. */
  timeouts?: number;
  /** The exact request body. */
  body: string;
  /** Present only while the entry may still be sent (queued, sending, retrying). */
  token: string | null;
}

export interface OutboxOptions {
  dir: string;
  log: (msg: string) => void;
  /** First retry delay; doubles each attempt up to `maxDelayMs`, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest `Retry-After` honoured (a server asking for a day gets `maxRetryAfterMs`). */
  maxRetryAfterMs?: number;
  /** First attempt's timeout (calculadorapnav's 10 s); doubles after each unanswered attempt up to `maxTimeoutMs`. */
  timeoutMs?: number;
  maxTimeoutMs?: number;
  /** Unanswered attempts after which an `uncertain` record is no longer retried (it may have arrived). */
  maxUncertainAttempts?: number;
  random?: () => number;
}

export interface EnqueueInput {
  endpointUrl: string;
  token: string;
  modelId: string;
  typeProcess: TypeProcess;
  notebookPath: string | null;
  runIds: string[];
  body: string;
}

/** Why the outbox refused an action on an entry; the router maps `code` to the HTTP status. */
export class OutboxError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'bad_request',
    message: string,
  ) {
    super(message);
    this.name = 'OutboxError';
  }
}

const ENTRY_FILE = /^up-[0-9a-f-]{36}\.json$/;

export function toPublic(entry: OutboxEntry): Upload {
  const { version: _v, body: _b, token: _t, timeouts: _n, ...upload } = entry;
  return upload;
}

function cancelledState(entry: OutboxEntry): OutboxEntry {
  return { ...entry, status: 'failed', lastError: 'cancelled before it was sent', nextAttemptAt: null, token: null };
}

/** Statuses that are an outcome of an attempt (what a waiting client reports). */
const FIRST_OUTCOME: ReadonlySet<UploadStatus> = new Set(['sent', 'failed', 'retrying', 'uncertain']);

export class Outbox {
  private entries = new Map<string, OutboxEntry>();
  /** Cancelled by the user while this process runs: the worker must not send or revive them. */
  private cancelled = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private inFlight: AbortController | null = null;
  private inFlightId: string | null = null;
  private stopped = true;
  private loaded: Promise<void> | null = null;
  /** After a worker error (e.g. the disk is full) nothing is tried before this. */
  private cooldownUntil = 0;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly timeoutMs: number;
  private readonly maxTimeoutMs: number;
  private readonly maxUncertainAttempts: number;
  /** Waiters of waitForOutcome, called on every persisted change. */
  private readonly watchers = new Set<() => void>();

  constructor(private readonly options: OutboxOptions) {
    this.baseDelayMs = options.baseDelayMs ?? 2_000;
    this.maxDelayMs = options.maxDelayMs ?? 10 * 60_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60 * 60_000;
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? SEND_TIMEOUT_MS;
    this.maxTimeoutMs = options.maxTimeoutMs ?? 6 * this.timeoutMs;
    this.maxUncertainAttempts = options.maxUncertainAttempts ?? 5;
  }

  private filePath(id: string): string {
    return path.join(this.options.dir, `${id}.json`);
  }

  private async ensureDir(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    await chmod(this.options.dir, 0o700);
  }

  /** Reads every entry from disk once (start() or the first call that needs them). */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      await this.ensureDir();
      for (const name of await readdir(this.options.dir)) {
        if (!ENTRY_FILE.test(name)) continue;
        try {
          const entry = JSON.parse(await readFile(path.join(this.options.dir, name), 'utf8')) as OutboxEntry;
          if (entry.version === 1 && typeof entry.id === 'string') this.entries.set(entry.id, entry);
        } catch (error) {
          this.options.log(`outbox: ignoring unreadable entry ${name}: ${(error as Error).message}`);
        }
      }
    })();
    return this.loaded;
  }

  /** Writes the new state of an entry; readers see it only once it is on disk. */
  private async persist(entry: OutboxEntry): Promise<void> {
    const next = { ...entry, updatedAt: new Date().toISOString() };
    await writeFileAtomic(this.filePath(next.id), JSON.stringify(next), { mode: 0o600, forceMode: true });
    this.entries.set(next.id, next);
    for (const watcher of this.watchers) watcher();
  }

  /** The upload once an attempt has had an outcome (sent, failed, retrying, uncertain), or as it is after `waitMs`. */
  async waitForOutcome(id: string, waitMs: number): Promise<Upload | undefined> {
    const done = () => {
      const entry = this.entries.get(id);
      return !entry || FIRST_OUTCOME.has(entry.status);
    };
    if (!done()) {
      await new Promise<void>(resolve => {
        const finish = () => {
          clearTimeout(timer);
          this.watchers.delete(check);
          resolve();
        };
        const check = () => {
          if (done()) finish();
        };
        const timer = setTimeout(finish, waitMs);
        this.watchers.add(check);
      });
    }
    return this.get(id);
  }

  /** This attempt's timeout: doubled after each unanswered attempt, capped. */
  attemptTimeoutMs(timeouts: number): number {
    return Math.min(this.maxTimeoutMs, this.timeoutMs * 2 ** timeouts);
  }

  /** The same runs' record to the same place, still pending or delivered (the newest), if any. */
  async twin(input: Omit<EnqueueInput, 'token'>): Promise<Upload | undefined> {
    await this.load();
    const twin = [...this.entries.values()]
      .filter(
        e =>
          e.status !== 'failed' &&
          e.endpointUrl === input.endpointUrl &&
          e.modelId === input.modelId &&
          e.runIds.join('\n') === input.runIds.join('\n') &&
          e.body === input.body,
      )
      .sort((a, b) => byIso(b.createdAt, a.createdAt))[0];
    return twin ? toPublic(twin) : undefined;
  }

  /**
   * Queues a record: on disk before this resolves, sent by the worker afterwards. A twin (see
   * `twin`) is returned instead of queuing the record twice, unless `resend` asks for a new submission.
   */
  async enqueue(input: EnqueueInput, options: { resend?: boolean } = {}): Promise<Upload> {
    await this.load();
    const twin = options.resend ? undefined : await this.twin(input);
    if (twin) return twin;
    const id = `up-${randomUUID()}`;
    const now = new Date().toISOString();
    const entry: OutboxEntry = {
      version: 1,
      id,
      status: 'queued',
      endpointUrl: input.endpointUrl,
      modelId: input.modelId,
      typeProcess: input.typeProcess,
      notebookPath: input.notebookPath,
      runIds: input.runIds,
      idempotencyKey: id,
      attempts: 0,
      lastError: null,
      lastHttpStatus: null,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
      sentAt: null,
      fix: null,
      body: input.body,
      token: input.token,
    };
    await this.persist(entry);
    this.kick();
    return toPublic(entry);
  }

  /** Stops a pending upload before it is sent: it ends `failed`, its token forgotten. */
  async cancel(id: string): Promise<Upload> {
    await this.load();
    const entry = this.entries.get(id);
    if (!entry) throw new OutboxError('not_found', `upload ${id} not found`);
    if (entry.status === 'sent' || entry.status === 'failed') {
      throw new OutboxError('conflict', `upload ${id} is already ${entry.status}; nothing to cancel`);
    }
    // The worker may have picked it already: it checks this set before and after sending, and an
    // attempt in flight is aborted (if the server had it already, the outcome says sent, and it stays sent).
    this.cancelled.add(id);
    if (entry.status === 'sending') {
      if (this.inFlightId === id) this.inFlight?.abort();
      // Answer with the settled entry: cancelled, or sent when the server had it already.
      return (await this.waitForOutcome(id, 10_000)) ?? toPublic(entry);
    }
    await this.persist(cancelledState(entry));
    return toPublic(this.entries.get(id) as OutboxEntry);
  }

  /** Sends a retrying upload now, or a failed one again (with its token, which a failed entry no longer keeps). */
  async retry(id: string, token?: string): Promise<Upload> {
    await this.load();
    const entry = this.entries.get(id);
    if (!entry) throw new OutboxError('not_found', `upload ${id} not found`);
    if (entry.status === 'sent') throw new OutboxError('conflict', `upload ${id} was sent already`);
    if (entry.status === 'failed' && !token) {
      throw new OutboxError('bad_request', 'token: a failed upload no longer keeps its token; send it again');
    }
    if (entry.status !== 'sending') {
      this.cancelled.delete(id);
      const now = new Date().toISOString();
      await this.persist({
        ...entry,
        status: entry.status === 'failed' ? 'queued' : entry.status,
        token: token ?? entry.token,
        nextAttemptAt: now,
      });
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.kick();
    }
    return toPublic(this.entries.get(id) as OutboxEntry);
  }

  get(id: string): Upload | undefined {
    const entry = this.entries.get(id);
    return entry ? toPublic(entry) : undefined;
  }

  /** Newest first. */
  list(filter: { notebookPath?: string } = {}): Upload[] {
    return [...this.entries.values()]
      .filter(e => filter.notebookPath === undefined || e.notebookPath === filter.notebookPath)
      .sort((a, b) => byIso(b.createdAt, a.createdAt))
      .map(toPublic);
  }

  /** Loads the entries and resumes the pending ones (including those a crash left `sending`). */
  start(): void {
    this.stopped = false;
    void this.load()
      .then(() => this.kick())
      .catch(error => this.options.log(`outbox: cannot read ${this.options.dir}: ${(error as Error).message}`));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.inFlight?.abort();
    await this.running;
  }

  /** Starts the worker unless it is running; it is the only sender (one at a time). */
  private kick(): void {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.drain()
      .catch(error => {
        this.cooldownUntil = Date.now() + this.baseDelayMs;
        this.options.log(`outbox: worker error: ${(error as Error).message}`);
      })
      .finally(() => {
        this.running = null;
        this.schedule();
      });
  }

  private pending(): OutboxEntry[] {
    return [...this.entries.values()].filter(
      e =>
        e.status === 'queued' ||
        e.status === 'retrying' ||
        e.status === 'sending' ||
        (e.status === 'uncertain' && e.nextAttemptAt !== null),
    );
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.pending()
      .map(e => Date.parse(e.nextAttemptAt ?? e.createdAt))
      .sort((a, b) => a - b)[0];
    if (next === undefined) return;
    const delay = Math.max(0, next - Date.now(), this.cooldownUntil - Date.now());
    this.timer = setTimeout(() => this.kick(), Math.min(delay, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const now = Date.now();
      const due = this.pending()
        .filter(e => Date.parse(e.nextAttemptAt ?? e.createdAt) <= now)
        .sort((a, b) => byIso(a.createdAt, b.createdAt))[0];
      if (!due) return;
      await this.attempt(due);
    }
  }

  /** Exponential back-off with jitter: base x 2^(n-1), capped, times 0.5..1. */
  backoffMs(attempts: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(ceiling * (0.5 + this.random() / 2));
  }

  private async attempt(current: OutboxEntry): Promise<void> {
    if (this.cancelled.has(current.id)) {
      // Cancelled while an attempt was in flight: settle it, or the worker would pick it again and again.
      await this.persist(cancelledState(current));
      return;
    }
    const entry: OutboxEntry = { ...current };
    if (!entry.token) {
      // A pending entry without its token cannot be sent (an edited file): stop it, visibly.
      entry.status = 'failed';
      entry.lastError = 'the token is no longer stored for this record; submit it again';
      entry.nextAttemptAt = null;
      await this.persist(entry);
      return;
    }
    // An uncertain record stays uncertain while it is sent again: the server may already have it.
    const wasUncertain = entry.status === 'uncertain' || (entry.timeouts ?? 0) > 0;
    entry.status = 'sending';
    entry.attempts += 1;
    await this.persist(entry);
    if (this.cancelled.has(entry.id)) {
      await this.persist(cancelledState(entry));
      return;
    }
    const token = entry.token;
    this.inFlight = new AbortController();
    this.inFlightId = entry.id;
    let outcome: SendOutcome;
    try {
      outcome = await sendRecord({
        endpointUrl: entry.endpointUrl,
        token,
        idempotencyKey: entry.idempotencyKey,
        body: entry.body,
        timeoutMs: this.attemptTimeoutMs(entry.timeouts ?? 0),
        signal: this.inFlight.signal,
      });
    } finally {
      this.inFlight = null;
      this.inFlightId = null;
    }
    if (this.cancelled.has(entry.id) && outcome.kind !== 'sent') {
      await this.persist(cancelledState(entry));
      return;
    }
    if (this.stopped && outcome.kind === 'retry') {
      // Interrupted by stop(): resumed at the next start, this attempt not counted.
      entry.attempts -= 1;
      entry.status = wasUncertain ? 'uncertain' : 'retrying';
      entry.nextAttemptAt = new Date().toISOString();
      await this.persist(entry);
      return;
    }
    this.apply(entry, outcome, wasUncertain);
    await this.persist(entry);
  }

  private apply(entry: OutboxEntry, outcome: SendOutcome, wasUncertain: boolean): void {
    const host = new URL(entry.endpointUrl).host;
    if (outcome.kind === 'sent') {
      entry.status = 'sent';
      entry.lastHttpStatus = outcome.httpStatus;
      entry.lastError = null;
      entry.sentAt = new Date().toISOString();
      entry.nextAttemptAt = null;
      entry.token = null;
      entry.fix = null;
      this.options.log(`upload ${entry.id}: sent to ${host} (HTTP ${outcome.httpStatus}, attempt ${entry.attempts})`);
      return;
    }
    entry.lastHttpStatus = outcome.httpStatus;
    entry.lastError = scrub(outcome.message, entry.token ?? '');
    if (outcome.kind === 'failed') {
      entry.status = 'failed';
      entry.nextAttemptAt = null;
      entry.token = null;
      entry.fix = fixForStatus(outcome.httpStatus);
      this.options.log(`upload ${entry.id}: failed for good: ${entry.lastError}; ${entry.fix}`);
      return;
    }
    if (outcome.timedOut) entry.timeouts = (entry.timeouts ?? 0) + 1;
    const uncertain = wasUncertain || outcome.timedOut === true;
    if (uncertain && (entry.timeouts ?? 0) >= this.maxUncertainAttempts) {
      // Bounded: the record may have arrived; sending it for ever could only add duplicates.
      entry.status = 'uncertain';
      entry.nextAttemptAt = null;
      entry.token = null;
      entry.fix =
        'no attempt was answered; the PNAV server may have the record already. Check on the PNAV web site before submitting it again';
      this.options.log(`upload ${entry.id}: gave up after ${entry.attempts} attempts without an answer (uncertain)`);
      return;
    }
    const retryAfter = outcome.retryAfterMs === null ? null : Math.min(outcome.retryAfterMs, this.maxRetryAfterMs);
    const delay = retryAfter ?? this.backoffMs(entry.attempts);
    entry.status = uncertain ? 'uncertain' : 'retrying';
    entry.nextAttemptAt = new Date(Date.now() + delay).toISOString();
    this.options.log(
      `upload ${entry.id}: attempt ${entry.attempts} did not succeed (${entry.lastError}); next in ${Math.round(delay / 1000)} s`,
    );
  }
}

export type { UploadStatus };
