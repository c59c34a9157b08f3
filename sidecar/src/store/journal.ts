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
 * - on replay a torn last line (a crash mid-write) is ignored.
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
}

interface JournalLine<T> {
  seq: number;
  id: string;
  value: T;
}

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
    ensurePrivateDir(opts.dir);
  }

  /** Replays snapshot + journal and opens the journal for appending. Returns the live records. */
  open(): Map<string, T> {
    this.records = new Map();
    let snapshotSeq = 0;
    if (fs.existsSync(this.snapshotPath)) {
      const snapshot = JSON.parse(fs.readFileSync(this.snapshotPath, 'utf8')) as Snapshot<T>;
      snapshotSeq = snapshot.seq;
      for (const [id, value] of Object.entries(snapshot.records)) this.records.set(id, value);
    }
    this.seq = snapshotSeq;
    if (fs.existsSync(this.journalPath)) {
      const text = fs.readFileSync(this.journalPath, 'utf8');
      const lines = text.split('\n');
      let torn = 0;
      for (const line of lines) {
        if (line === '') continue;
        let entry: JournalLine<T>;
        try {
          entry = JSON.parse(line) as JournalLine<T>;
        } catch {
          torn++; // a write cut short by a crash: the caller never got a reply for it
          continue;
        }
        if (entry.seq <= snapshotSeq) continue; // already folded into the snapshot
        this.records.set(entry.id, entry.value);
        this.seq = Math.max(this.seq, entry.seq);
      }
      if (torn > 0) this.log(`store: ignored ${torn} torn journal line(s) in ${this.journalPath}`);
      // A torn tail without '\n' would glue onto the next append: start on a fresh line.
      if (text.length > 0 && !text.endsWith('\n')) fs.appendFileSync(this.journalPath, '\n', { mode: 0o600 });
    }
    this.fd = fs.openSync(this.journalPath, 'a', 0o600);
    fs.fchmodSync(this.fd, 0o600);
    this.journalBytes = fs.fstatSync(this.fd).size;
    return new Map(this.records);
  }

  get(id: string): T | undefined {
    return this.records.get(id);
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
    if (this.fd === null) throw new Error('journal is not open');
    const line = `${JSON.stringify({ seq: ++this.seq, id, value } satisfies JournalLine<T>)}\n`;
    try {
      this.writeLine(line);
    } catch (err) {
      this.seq--; // the caller gets the error: this record does not exist
      throw err;
    }
    this.records.set(id, value);
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
