/**
 * Typed failures of the sidecar API, so the UI can say what went wrong.
 * Pure: no JupyterLab imports.
 */

export interface IApiIssue {
  path: string;
  message: string;
}

/** The sidecar (or the proxy in front of it) answered with a non-2xx status. */
export class PnavApiError extends Error {
  constructor(
    readonly status: number,
    /** The sidecar's error code (`bad_request`, `not_found`, ...) or `http_<status>` when the body had none. */
    readonly code: string,
    message: string,
    readonly issues: IApiIssue[] = [],
  ) {
    super(message);
    this.name = 'PnavApiError';
  }

  /** The message with the fields it names, e.g. `invalid body (modelId: must be 64 ...)`. */
  get detail(): string {
    return this.issues.length === 0
      ? this.message
      : `${this.message} (${this.issues.map(i => `${i.path}: ${i.message}`).join('; ')})`;
  }
}

/** The server could not be reached at all. */
export class PnavNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PnavNetworkError';
  }
}

/** Builds the typed error from a failed response body, whatever shape it has. */
export function apiErrorFrom(status: number, statusText: string, body: string): PnavApiError {
  let parsed: unknown = null;
  try {
    parsed = body ? JSON.parse(body) : null;
  } catch {
    parsed = null;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error === 'object' && error !== null) {
    const e = error as { code?: unknown; message?: unknown; issues?: unknown };
    const issues = Array.isArray(e.issues)
      ? e.issues
          .filter((i): i is IApiIssue => typeof i?.path === 'string' && typeof i?.message === 'string')
          .map(i => ({ path: i.path, message: i.message }))
      : [];
    return new PnavApiError(
      status,
      typeof e.code === 'string' ? e.code : `http_${status}`,
      typeof e.message === 'string' ? e.message : statusText,
      issues,
    );
  }
  // Jupyter's own handlers answer {message, reason}; plain text from a proxy is kept short.
  const message = (parsed as { message?: unknown } | null)?.message;
  const fallback = typeof message === 'string' ? message : body.trim().slice(0, 200) || statusText;
  return new PnavApiError(status, `http_${status}`, fallback || `HTTP ${status}`);
}

/** A short sentence for the UI, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof PnavApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}
