/**
 * An append-only JSON-lines journal with a snapshot, for durable records keyed by id.
 *
 * Durability model (see the sidecar README, "Store"):
 * - every put is written with write(2) before the caller replies: the data sits in the
 *   kernel's page cache, so it survives `kill -9` of the sidecar;
 * - fdatasync is group-committed at most every `syncIntervalMs` (default 100 ms), and within
 *   `durableSyncDelayMs` (default 10 ms) when a caller asks for a durable put (a run closing):
 *   closes arriving together share one fdatasync, and then survive power loss;
 * - when the journal grows past `compactBytes`, the live records are written to a snapshot
 *   (tmp + fsync + rename + fsync dir) and the journal is truncated;
 * - on replay a torn last line (a crash mid-write) is ignored; damaged data (lines or records of
 *   the wrong shape, an unreadable snapshot) is skipped, kept aside under <file>.damaged-<time>
 *   and reported in `storageWarnings`, never a reason to refuse to start.
 * No native modules, no external database: Node's fs is enough for one writer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomicSync } from '../util/atomic-file.js';

export interface JournalOptions {
  dir: string;
  /** Base name: files are <name>.journal and <name>.snapshot.json. */
  name: string;
  syncIntervalMs?: number;
  /** Group-commit window of durable puts (0: fdatasync at once). */
  durableSyncDelayMs?: number;
  compactBytes?: number;
  log?: (msg: string) => void;
  /** Why a stored value has the wrong shape for this journal, or null when it is usable. */
  validate?: (value: unknown, id: string) => string | null;
}

/** Stored data found damaged at start-up: which file, what was lost, where the damaged copy went. */
export interface StorageWarning {
  file: string;
  message: string;
  movedTo: string | null;
}

interface JournalLine<T> {
  seq: number;
  id: string;
  value: T;
}

/** A record removed (an open run's checkpoint once the run closed). */
interface JournalDeletion {
  seq: number;
  id: string;
  deleted: true;
}

type JournalEntry<T> = JournalLine<T> | JournalDeletion;

interface Snapshot<T> {
  seq: number;
  records: Record<string, T>;
}

export class Journal<T> {
  private readonly journalPath: string;
  private readonly snapshotPath: string;
  private readonly syncIntervalMs: number;
  private readonly durableSyncDelayMs: number;
  /** When the pending timer fires (performance.now()), so a durable put can bring it forward. */
  private syncDueMs = 0;
  /** Durable puts waiting for the group commit's fdatasync. */
  private waiters: (() => void)[] | null = null;
  private readonly compactBytes: number;
  private readonly log: (msg: string) => void;
  private readonly validate: (value: unknown, id: string) => string | null;
  private warnings: StorageWarning[] = [];
  private fd: number | null = null;
  private seq = 0;
  private journalBytes = 0;
  private records = new Map<string, T>();
  private syncTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  /** A failed write left part of a line that could not be cut off. */
  private tornTail = false;

  constructor(opts: JournalOptions) {
    this.journalPath = path.join(opts.dir, `${opts.name}.journal`);
    this.snapshotPath = path.join(opts.dir, `${opts.name}.snapshot.json`);
    this.syncIntervalMs = opts.syncIntervalMs ?? 100;
    this.durableSyncDelayMs = opts.durableSyncDelayMs ?? 10;
    this.compactBytes = opts.compactBytes ?? 8 * 1024 * 1024;
    this.log = opts.log ?? (() => {});
    this.validate = opts.validate ?? (() => null);
    ensurePrivateDir(opts.dir);
  }

  /**
   * Replays snapshot + journal and opens the journal for appending. Returns the live records.
   * Damaged stored data never stops this: a snapshot that cannot be read is moved aside and the
   * records are rebuilt from the journal; journal lines of the wrong shape are skipped, the file
   * as found is copied aside, and both are cleaned by a compaction. Each loss is in `warnings`.
   */
  open(): Map<string, T> {
    this.records = new Map();
    this.warnings = [];
    const { snapshotSeq, snapshotFound, snapshotDamaged } = this.replaySnapshot();
    this.seq = snapshotSeq;
    let damaged = snapshotDamaged;
    if (fs.existsSync(this.journalPath)) {
      const text = fs.readFileSync(this.journalPath, 'utf8');
      const replay = this.replayJournal(text, snapshotSeq);
      damaged ||= replay.damaged;
      if (!snapshotDamaged) this.checkContinuity(snapshotFound, snapshotSeq, replay.firstSeq);
      // A torn tail without '\n' would glue onto the next append: start on a fresh line.
      if (text.length > 0 && !text.endsWith('\n')) fs.appendFileSync(this.journalPath, '\n', { mode: 0o600 });
    }
    this.fd = fs.openSync(this.journalPath, 'a', 0o600);
    fs.fchmodSync(this.fd, 0o600);
    this.journalBytes = fs.fstatSync(this.fd).size;
    if (damaged) {
      try {
        this.compact(); // the clean records only, so the damage is not met again at the next start
      } catch (err) {
        this.log(`store: could not rewrite ${this.snapshotPath} after damage: ${(err as Error).message}`);
      }
    }
    return new Map(this.records);
  }

  /** What was lost or moved aside while opening, for the log and GET /api/v1/status. */
  get storageWarnings(): readonly StorageWarning[] {
    return this.warnings;
  }

  private replaySnapshot(): { snapshotSeq: number; snapshotFound: boolean; snapshotDamaged: boolean } {
    if (!fs.existsSync(this.snapshotPath)) return { snapshotSeq: 0, snapshotFound: false, snapshotDamaged: false };
    let snapshot: unknown;
    let why: string | null = null;
    try {
      snapshot = JSON.parse(fs.readFileSync(this.snapshotPath, 'utf8'));
      why = snapshotShapeError(snapshot);
    } catch (err) {
      why = `it cannot be read as JSON (${(err as Error).message})`;
    }
    if (why !== null) {
      const movedTo = this.moveAside(this.snapshotPath);
      this.warn(
        this.snapshotPath,
        `${why}; ${movedTo ? `moved to ${movedTo}` : 'left in place'}. Records were rebuilt from ${this.journalPath} alone: those only in the snapshot (everything stored before its last compaction) are lost`,
        movedTo,
      );
      return { snapshotSeq: 0, snapshotFound: true, snapshotDamaged: true };
    }
    const { seq, records } = snapshot as Snapshot<unknown>;
    const skipped: string[] = [];
    for (const [id, value] of Object.entries(records)) {
      const bad = this.validate(value, id);
      if (bad === null) this.records.set(id, value as T);
      else skipped.push(`${id} (${bad})`);
    }
    if (skipped.length === 0) return { snapshotSeq: seq, snapshotFound: true, snapshotDamaged: false };
    const movedTo = this.copyAside(this.snapshotPath);
    this.warn(
      this.snapshotPath,
      `skipped ${skipped.length} record(s) of the wrong shape: ${listSome(skipped)}; the file as found was copied to ${movedTo ?? '(copy failed)'}`,
      movedTo,
    );
    return { snapshotSeq: seq, snapshotFound: true, snapshotDamaged: true };
  }

  private replayJournal(text: string, snapshotSeq: number): { damaged: boolean; firstSeq: number | null } {
    const lines = text.split('\n');
    const lastIndex = text.endsWith('\n') ? lines.length - 2 : lines.length - 1;
    const bad: string[] = [];
    let torn = 0;
    let firstSeq: number | null = null;
    lines.forEach((line, index) => {
      if (line === '') return;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        // A last line cut short by a crash mid-write: the caller never got a reply for it.
        if (index === lastIndex) torn++;
        else bad.push(`line ${index + 1} (not JSON)`);
        return;
      }
      const why = lineShapeError(entry) ?? this.valueError(entry as JournalEntry<unknown>);
      if (why !== null) {
        bad.push(`line ${index + 1} (${why})`);
        return;
      }
      const ok = entry as JournalEntry<T>;
      firstSeq = firstSeq === null ? ok.seq : Math.min(firstSeq, ok.seq);
      if (ok.seq <= snapshotSeq) return; // already folded into the snapshot
      if ('deleted' in ok) this.records.delete(ok.id);
      else this.records.set(ok.id, ok.value);
      this.seq = Math.max(this.seq, ok.seq);
    });
    if (torn > 0) this.log(`store: ignored ${torn} torn journal line(s) in ${this.journalPath}`);
    if (bad.length === 0) return { damaged: false, firstSeq };
    const movedTo = this.copyAside(this.journalPath);
    this.warn(
      this.journalPath,
      `skipped ${bad.length} damaged line(s): ${listSome(bad)}; the file as found was copied to ${movedTo ?? '(copy failed)'}`,
      movedTo,
    );
    return { damaged: true, firstSeq };
  }

  /** A journal that starts after the snapshot ends (or with no snapshot at all) lost the records between. */
  private checkContinuity(snapshotFound: boolean, snapshotSeq: number, firstSeq: number | null): void {
    if (firstSeq === null || firstSeq <= snapshotSeq + 1) return;
    const lost = firstSeq - snapshotSeq - 1;
    const message = snapshotFound
      ? `${this.journalPath} starts at record ${firstSeq} but the snapshot ends at ${snapshotSeq}: ${lost} record(s) between them are lost`
      : `${this.snapshotPath} is missing but ${this.journalPath} starts at record ${firstSeq}: the ${lost} record(s) compacted into the snapshot before are lost`;
    this.warn(snapshotFound ? this.journalPath : this.snapshotPath, message, null);
  }

  private valueError(entry: JournalEntry<unknown>): string | null {
    return 'deleted' in entry ? null : this.validate(entry.value, entry.id);
  }

  private warn(file: string, message: string, movedTo: string | null): void {
    this.warnings.push({ file, message, movedTo });
    this.log(`store: ${file}: ${message}`);
  }

  /** Renames a damaged file to <file>.damaged-<timestamp>; null when that fails. */
  private moveAside(file: string): string | null {
    const target = `${file}.damaged-${fileTimestamp()}`;
    try {
      fs.renameSync(file, target);
      return target;
    } catch (err) {
      this.log(`store: could not move ${file} aside: ${(err as Error).message}`);
      return null;
    }
  }

  /** Copies a file kept in use (its good lines are still replayed) to <file>.damaged-<timestamp>. */
  private copyAside(file: string): string | null {
    const target = `${file}.damaged-${fileTimestamp()}`;
    try {
      fs.copyFileSync(file, target, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(target, 0o600);
      return target;
    } catch (err) {
      this.log(`store: could not copy ${file} aside: ${(err as Error).message}`);
      return null;
    }
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  keys(): IterableIterator<string> {
    return this.records.keys();
  }

  values(): IterableIterator<T> {
    return this.records.values();
  }

  /**
   * Writes the record to the journal now (write(2), synchronous). `durable` also has an fdatasync
   * start within durableSyncDelayMs and the promise waits for it; otherwise the group commit syncs
   * within syncIntervalMs and the promise is already resolved.
   */
  put(id: string, value: T, opts: { durable?: boolean } = {}): Promise<void> {
    const put = this.append({ seq: this.seq + 1, id, value } satisfies JournalLine<T>, opts);
    this.records.set(id, value);
    return put;
  }

  /** Removes the record; like put, written now (the caller gets the error when it cannot be). */
  delete(id: string, opts: { durable?: boolean } = {}): Promise<void> {
    if (!this.records.has(id)) return Promise.resolve();
    const removed = this.append({ seq: this.seq + 1, id, deleted: true } satisfies JournalDeletion, opts);
    this.records.delete(id);
    return removed;
  }

  private append(entry: JournalEntry<T>, opts: { durable?: boolean }): Promise<void> {
    if (this.fd === null) throw new Error('journal is not open');
    this.writeLine(`${JSON.stringify(entry)}\n`); // throws: the caller gets the error, nothing changed
    this.seq = entry.seq;
    this.dirty = true;
    if (this.journalBytes > this.compactBytes) {
      try {
        this.compact();
      } catch (err) {
        // The record is in the journal already; compaction is retried on the next put.
        this.log(`store: compaction failed: ${(err as Error).message}`);
      }
    }
    if (opts.durable) return this.durableSyncDelayMs > 0 ? this.syncWithin(this.durableSyncDelayMs) : this.sync();
    this.scheduleSync();
    return Promise.resolve();
  }

  /**
   * One write(2) of the whole line in the common case; the loop covers a short write. A write cut
   * short by an error (ENOSPC after part of the line landed) is cut back off the file: a torn tail
   * left there would glue the next acknowledged line onto it, and replay would drop both.
   */
  private writeLine(text: string): void {
    // After a torn tail that could not be cut off, start on a fresh line so this one survives replay.
    const line = this.tornTail ? `\n${text}` : text;
    const bytes = Buffer.byteLength(line);
    let written = 0;
    try {
      written = fs.writeSync(this.fd!, line);
      if (written < bytes) {
        const buf = Buffer.from(line, 'utf8');
        while (written < buf.length) written += fs.writeSync(this.fd!, buf, written);
      }
    } catch (err) {
      if (written > 0) this.cutBackTo(this.journalBytes);
      throw err;
    }
    this.tornTail = false;
    this.journalBytes += bytes;
  }

  private cutBackTo(lengthBytes: number): void {
    try {
      fs.ftruncateSync(this.fd!, lengthBytes);
    } catch (err) {
      this.tornTail = true;
      try {
        this.journalBytes = fs.fstatSync(this.fd!).size; // the torn bytes stay: count them
      } catch {
        // keep the old count
      }
      // Replay ignores the torn line, and the next line starts after a '\n' of its own.
      this.log(`store: could not cut a failed write off ${this.journalPath}: ${(err as Error).message}`);
    }
  }

  /**
   * Resolves once an fdatasync covering every write so far has finished: the pending group
   * commit, brought forward to `delayMs` from now when it was due later.
   */
  private syncWithin(delayMs: number): Promise<void> {
    const waiting = new Promise<void>(resolve => {
      this.waiters ??= [];
      this.waiters.push(resolve);
    });
    const due = performance.now() + delayMs;
    if (this.syncTimer && this.syncDueMs <= due) return waiting;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncDueMs = due;
    this.syncTimer = setTimeout(() => void this.sync(), delayMs);
    this.syncTimer.unref();
    return waiting;
  }

  /** fdatasync now; concurrent callers share one call (group commit). */
  sync(): Promise<void> {
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
    }
    const done = this.startSync();
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters)
      void done.then(() => {
        for (const resolve of waiters) resolve();
      });
    return done;
  }

  private startSync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    if (!this.dirty || this.fd === null) return Promise.resolve();
    this.dirty = false;
    const fd = this.fd;
    this.syncing = new Promise<void>(resolve => {
      fs.fdatasync(fd, err => {
        if (err) this.log(`store: fdatasync failed: ${err.message}`);
        this.syncing = null;
        if (this.syncAgain) {
          this.syncAgain = false;
          void this.startSync().then(resolve);
        } else resolve();
      });
    });
    return this.syncing;
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.syncing) return;
    this.syncDueMs = performance.now() + this.syncIntervalMs;
    this.syncTimer = setTimeout(() => void this.sync(), this.syncIntervalMs);
    this.syncTimer.unref();
  }

  /** Folds the journal into a snapshot written atomically, then truncates the journal. */
  compact(): void {
    if (this.fd === null) return;
    const snapshot: Snapshot<T> = { seq: this.seq, records: Object.fromEntries(this.records) };
    writeFileAtomicSync(this.snapshotPath, JSON.stringify(snapshot), { mode: 0o600, forceMode: true });
    // Safe to truncate: every line's seq is <= the snapshot's, so replay would skip them anyway.
    fs.ftruncateSync(this.fd, 0);
    fs.fsyncSync(this.fd);
    this.journalBytes = 0;
    this.dirty = false;
  }

  /** Syncs outstanding writes and closes the file. */
  close(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (this.fd === null) return;
    if (this.dirty) fs.fdatasyncSync(this.fd);
    this.dirty = false;
    fs.closeSync(this.fd);
    this.fd = null;
    const waiters = this.waiters;
    this.waiters = null;
    for (const resolve of waiters ?? []) resolve();
  }

  /** Size of the journal file in bytes (for tests and status). */
  get sizeBytes(): number {
    return this.journalBytes;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function snapshotShapeError(snapshot: unknown): string | null {
  if (!isPlainObject(snapshot)) return `it holds ${describeJson(snapshot)}, not a snapshot object`;
  if (!Number.isSafeInteger(snapshot.seq) || (snapshot.seq as number) < 0) return 'its "seq" is not a record number';
  if (!isPlainObject(snapshot.records)) return 'its "records" is not an object';
  return null;
}

function lineShapeError(entry: unknown): string | null {
  if (!isPlainObject(entry)) return `${describeJson(entry)}, not a record`;
  if (!Number.isSafeInteger(entry.seq) || (entry.seq as number) < 1) return 'no record number';
  if (typeof entry.id !== 'string' || entry.id === '') return 'no id';
  if (entry.deleted === true) return null;
  if (!('value' in entry)) return 'no value';
  return null;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** The first few items of a long list, and how many more. */
function listSome(items: string[], max = 5): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** A timestamp usable in a file name (no ':'), sortable. */
function fileTimestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Creates the directory (and parents) with mode 0700, tightening an existing one we own. */
export function ensurePrivateDir(dir: string): void {
  makeDirs(path.resolve(dir));
  try {
    fs.chmodSync(dir, 0o700);
  } catch {
    // not ours to change (e.g. a shared dir): the files inside are still 0600
  }
}

/**
 * mkdir -p with mode 0700. Not `mkdirSync(..., {recursive: true})`: under /proc (where mkdir
 * answers ENOENT below an existing directory) Node's recursive mkdir never returns.
 */
function makeDirs(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && fs.statSync(dir).isDirectory()) return;
    if (code !== 'ENOENT' || path.dirname(dir) === dir) throw err;
    makeDirs(path.dirname(dir));
    fs.mkdirSync(dir, { mode: 0o700 });
  }
}
