/**
 * Whole-file writes that a crash cannot tear: write a temporary file in the same
 * directory, fsync it, rename it over the target, fsync the directory. Readers see
 * the old content or the new, never a mix. Disk errors become `DiskWriteError`
 * with a sentence a user can act on; the previous file is untouched.
 */
import { randomUUID } from 'node:crypto';
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
  ) {
    const reason = REASONS[code] ?? `the system reported ${code}`;
    super(`could not write ${filePath}: ${reason}; the previous file is unchanged`, { cause });
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

export async function writeFileAtomic(
  filePath: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = path.dirname(filePath);
  const tmp = path.join(dir, `.${path.basename(filePath)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
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
