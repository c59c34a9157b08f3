/**
 * The few sidecar API calls `pnav measure` makes, over fetch. The same client talks to the
 * sidecar directly (bearer token) or through a Jupyter server's `/pnav/` proxy (Jupyter token).
 */
import { API_PREFIX, type Run, type Status } from '../../api/schemas.js';

export interface SidecarAccess {
  /** Base URL that `/api/v1/...` is appended to, without a trailing slash. */
  baseUrl: string;
  authorization: string;
  /** Where it came from, for the report: env, runtime-file, started, jupyter-proxy. */
  source: string;
}

export class SidecarRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class SidecarClient {
  constructor(readonly access: SidecarAccess) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.access.baseUrl}${path}`, {
      method,
      headers: {
        Authorization: this.access.authorization,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      let code = 'http_error';
      let message = `${method} ${path}: HTTP ${response.status}`;
      try {
        const envelope = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = envelope.error?.code ?? code;
        message = `${method} ${path}: ${envelope.error?.message ?? text.slice(0, 200)}`;
      } catch {
        // Not our JSON error envelope (a proxy's HTML page): keep the status line.
      }
      throw new SidecarRequestError(response.status, code, message);
    }
    return JSON.parse(text) as T;
  }

  async healthz(): Promise<{ ok: boolean; version: string }> {
    return this.request('GET', '/healthz');
  }

  async status(): Promise<Status> {
    return this.request('GET', `${API_PREFIX}/status`);
  }

  async listRuns(query: { kernelId?: string; notebookPath?: string; status?: string; limit?: number }): Promise<Run[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const { runs } = await this.request<{ runs: Run[] }>('GET', `${API_PREFIX}/runs?${params}`);
    return runs;
  }

  async getRun(id: string): Promise<Run> {
    const { run } = await this.request<{ run: Run }>('GET', `${API_PREFIX}/runs/${encodeURIComponent(id)}`);
    return run;
  }

  async patchRun(id: string, patch: { label?: string }): Promise<Run> {
    const { run } = await this.request<{ run: Run }>('PATCH', `${API_PREFIX}/runs/${encodeURIComponent(id)}`, patch);
    return run;
  }

  async closeRun(id: string, status: 'interrupted' | 'error', error: string): Promise<Run> {
    const { run } = await this.request<{ run: Run }>('POST', `${API_PREFIX}/runs/${encodeURIComponent(id)}/close`, {
      status,
      error,
    });
    return run;
  }
}
