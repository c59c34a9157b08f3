/**
 * Writes that a crash cannot tear; every file that must survive a crash is written here.
 * - `writeFileAtomic`: whole file; write a temporary file in the same directory, fsync it,
 *   rename it over the target, fsync the directory. Readers see the old content or the new.
 *   `writeFileAtomicSync` does the same for callers that cannot await (the journal's compaction,
 *   the runtime file written during start-up and signal handling).
 * - `appendDurable`: a few hundred bytes added to an existing file with ONE write(2) on an
 *   O_APPEND descriptor and one fdatasync (see the function for why that is safe enough).
 * Disk errors become `DiskWriteError` with a sentence a user can act on; the previous
 * content is left as it was.
 */
import { randomUUID } from 'node:crypto';
import fs, { constants } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted',
  ENOENT: 'the directory does not exist',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'the path is a directory',
  EIO: 'an input/output error occurred',
};

export class DiskWriteError extends Error {
  constructor(
    readonly code: string,
    readonly filePath: string,
    cause: unknown,
    /** False only when an append failed and cutting the file back failed too. */
    readonly previousIntact = true,
  ) {
    const reason = REASONS[code] ?? `the system reported ${code}`;
    const outcome = previousIntact
      ? 'the previous file is unchanged'
      : 'the file may end with a partial line, which the next write removes';
    super(`could not write ${filePath}: ${reason}; ${outcome}`, { cause });
    this.name = 'DiskWriteError';
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
}

/** fsync a directory so the rename itself is durable (a no-op where directories cannot be opened). */
async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EACCES'].includes(errorCode(error))) throw error;
  } finally {
    await handle?.close();
  }
}

export interface AtomicWriteOptions {
  /** Mode of a new file; an existing file keeps its own mode unless `forceMode`. */
  mode?: number;
  forceMode?: boolean;
}

/** The temporary file next to the target: hidden, and unique so two writers never share one. */
function temporaryPath(filePath: string): string {
  return path.join(
    path.dirname(filePath),
    `.${path.basename(filePath)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`,
  );
}

export async function writeFileAtomic(
  filePath: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = path.dirname(filePath);
  const tmp = temporaryPath(filePath);
  let mode = options.mode ?? 0o644;
  if (!options.forceMode) {
    mode = await stat(filePath).then(
      s => s.mode & 0o777,
      () => mode,
    );
  }
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx', mode);
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or widened the requested mode
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, filePath);
    await syncDir(dir);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new DiskWriteError(errorCode(error), filePath, error);
  }
}

/** `writeFileAtomic` for callers that cannot await; same temporary file, mode rule and errors. */
export function writeFileAtomicSync(
  filePath: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const dir = path.dirname(filePath);
  const tmp = temporaryPath(filePath);
  let mode = options.mode ?? 0o644;
  if (!options.forceMode) {
    try {
      mode = fs.statSync(filePath).mode & 0o777;
    } catch {
      // a new file: the requested mode
    }
  }
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', mode);
    fs.writeFileSync(fd, data);
    fs.fchmodSync(fd, mode); // the umask may have narrowed or widened the requested mode
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, filePath);
    syncDirSync(dir);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true }); // a half-written temporary file would only hold space on a full disk
    throw new DiskWriteError(errorCode(error), filePath, error);
  }
}

function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EACCES'].includes(errorCode(error))) throw error;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What `appendDurable` lets its caller see of the file before deciding to append. */
export interface AppendProbe {
  /** Size in bytes before the append. */
  size: number;
  /** The first `headBytes` bytes (fewer when the file is shorter). */
  head: Buffer;
  /** The last byte, or null for an empty file. */
  lastByte: number | null;
}

/**
 * Appends `data` to an EXISTING file when `accept(probe)` agrees; returns false, writing
 * nothing, when the file does not exist, cannot be opened for writing, or is refused
 * (the caller then takes its whole-file atomic path, which also reports errors properly).
 *
 * Why one write(2) on O_APPEND is enough: the kernel places the bytes at the end of the file
 * in one step, so a crash of this process never leaves part of them; fdatasync before we
 * return makes an acknowledged append survive a power cut (or, with `sync: false`, the caller's later
 * syncFile, while it keeps a record of what it owes). A power cut before fdatasync
 * returns can lose the append, or (on some file systems) leave a prefix of it or a run of
 * NUL bytes at the end: the file then does not end with '\n', which the caller's probe
 * check must refuse so that its repair path runs. If the write or the sync fails
 * (ENOSPC, EIO, …) the file is cut back to its previous length with ftruncate.
 * Single writer per file assumed (callers serialise with `KeyedMutex`).
 */
export async function appendDurable(
  filePath: string,
  data: Uint8Array,
  headBytes: number,
  accept: (probe: AppendProbe) => boolean,
  opts: { sync?: boolean } = {},
): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // No O_CREAT: a missing file is created by the atomic path, with its header.
    handle = await open(filePath, constants.O_RDWR | constants.O_APPEND);
  } catch {
    return false;
  }
  let size = -1;
  try {
    size = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(headBytes, size));
    if (head.length > 0) await handle.read(head, 0, head.length, 0);
    const last = Buffer.alloc(1);
    const lastByte = size > 0 && (await handle.read(last, 0, 1, size - 1)).bytesRead === 1 ? last[0] : null;
    if (!accept({ size, head, lastByte })) return false;
    // One write in the normal case; a short write (disk full part-way) is retried so its error surfaces.
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
      offset += bytesWritten;
    }
    // sync: false leaves the fdatasync to the caller (syncFile), who keeps what it owes until then.
    if (opts.sync !== false) await handle.datasync();
    return true;
  } catch (error) {
    let intact = true;
    if (size >= 0) {
      intact = await handle.truncate(size).then(
        () => true,
        () => false,
      );
    }
    throw new DiskWriteError(errorCode(error), filePath, error, intact);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * appendDurable without the fdatasync, in one synchronous step: a few system calls on the event
 * loop (tens of microseconds), where the asynchronous version waits for the thread pool six times,
 * which is what costs on a busy machine. The caller syncs later (syncFile) and keeps a record of
 * what it owes until then. Same probe, same cut-back on failure.
 */
export function appendNow(
  filePath: string,
  data: Uint8Array,
  headBytes: number,
  accept: (probe: AppendProbe) => boolean,
): boolean {
  let fd: number;
  try {
    fd = fs.openSync(filePath, constants.O_RDWR | constants.O_APPEND);
  } catch {
    return false;
  }
  let size = -1;
  try {
    size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(headBytes, size));
    if (head.length > 0) fs.readSync(fd, head, 0, head.length, 0);
    const last = Buffer.alloc(1);
    const lastByte = size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 ? last[0]! : null;
    if (!accept({ size, head, lastByte })) return false;
    let offset = 0;
    while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
    return true;
  } catch (error) {
    let intact = true;
    if (size >= 0) {
      try {
        fs.ftruncateSync(fd, size);
      } catch {
        intact = false;
      }
    }
    throw new DiskWriteError(errorCode(error), filePath, error, intact);
  } finally {
    fs.closeSync(fd);
  }
}

/** fdatasync of a file written earlier through another descriptor (the data is the file's, not the descriptor's). */
export async function syncFile(filePath: string): Promise<void> {
  const handle = await open(filePath, constants.O_RDONLY);
  try {
    await handle.datasync();
  } catch (error) {
    throw new DiskWriteError(errorCode(error), filePath, error, true);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Appends one line without fsync, creating the file: for data that may be lost (a power cut can
 * drop or tear it). The line is written as '\n' + line, so a torn predecessor never swallows it;
 * readers skip empty and unreadable lines.
 */
export function appendLineLooseNow(filePath: string, line: string, mode = 0o644): void {
  fs.appendFileSync(filePath, `\n${line}`, { mode });
}

export async function appendLineLoose(filePath: string, line: string, mode = 0o644): Promise<void> {
  const handle = await open(filePath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, mode);
  try {
    await handle.write(`\n${line}`, null, 'utf8');
  } finally {
    await handle.close();
  }
}

/** Runs `task` after every earlier task for the same key: one writer per file in this process. */
export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
