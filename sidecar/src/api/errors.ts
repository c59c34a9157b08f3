/** The one error envelope of the API: `{error: {code, message, issues?}}`. */

import type { ErrorCode } from './contract.js';

export type { ErrorCode };

export interface ErrorIssue {
  path: string;
  message: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly issues?: ErrorIssue[],
    /** Seconds for a Retry-After header (429). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }

  toBody(): { error: { code: ErrorCode; message: string; issues?: ErrorIssue[] } } {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

/** fs error codes that mean the data directory cannot be written: the machine's state, not a bug. */
const STORAGE_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES']);

/**
 * A 507 naming the cause when `err` is a filesystem write failure (a full disk, a read-only or
 * failing mount), else null. Not the client's mistake, so a 5xx, but a clear one.
 */
export function storageError(err: unknown): HttpError | null {
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown; name?: unknown } | null;
  if (!e || typeof e.code !== 'string' || !STORAGE_ERROR_CODES.has(e.code)) return null;
  // The atomic writer's errors already say which file and why, in words a user can act on.
  if (e.name === 'DiskWriteError' && typeof e.message === 'string')
    return new HttpError(507, 'storage_unavailable', e.message);
  if (typeof e.syscall !== 'string') return null;
  // Node's message is "ENOSPC: no space left on device, write [path]": keep the cause, drop the path.
  const cause = typeof e.message === 'string' && e.message.startsWith(`${e.code}:`) ? e.message.split(',')[0] : e.code;
  return new HttpError(507, 'storage_unavailable', `the data directory cannot be written (${cause})`);
}
