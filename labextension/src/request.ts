/**
 * The one way to call the sidecar: through the Jupyter server's `/pnav/` proxy,
 * with JupyterLab's own connection settings (token, XSRF, base URL), so it
 * works on remote servers. Failures become `PnavApiError` / `PnavNetworkError`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { apiErrorFrom, PnavNetworkError } from './errors';
import { API_PREFIX } from './generated/contract';

export const API_PATH = API_PREFIX.slice(1);

/** `<baseUrl>pnav/api/v1/<endpoint>`. */
export function apiUrl(settings: ServerConnection.ISettings, endpoint: string): string {
  return URLExt.join(settings.baseUrl, 'pnav', API_PATH, endpoint);
}

/** `<wsUrl>pnav/api/v1/<endpoint>`, with the token when the settings ask for it. */
export function wsApiUrl(settings: ServerConnection.ISettings, endpoint: string): string {
  const url = URLExt.join(settings.wsUrl, 'pnav', API_PATH, endpoint);
  return settings.appendToken && settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}

/** Sends a request and returns the raw response once it is known to be 2xx. */
export async function fetchAPI(
  endpoint: string,
  init: RequestInit,
  settings: ServerConnection.ISettings,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.body !== undefined && !headers.has('Content-Type')) {
    headers.set('Content-Type', 'application/json');
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(apiUrl(settings, endpoint), { ...init, headers }, settings);
  } catch (error) {
    throw new PnavNetworkError(error instanceof Error ? error.message : String(error));
  }
  if (!response.ok) {
    throw apiErrorFrom(response.status, response.statusText, await response.text());
  }
  return response;
}

/** JSON in, JSON out. */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings,
): Promise<T> {
  const response = await fetchAPI(endpoint, init, settings);
  const text = await response.text();
  if (text === '') {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new PnavNetworkError(`The server sent a response that is not JSON (${endpoint}).`);
  }
}

/** POSTs a JSON body and returns JSON. */
export function postAPI<T>(endpoint: string, body: unknown, settings: ServerConnection.ISettings): Promise<T> {
  return requestAPI<T>(endpoint, { method: 'POST', body: JSON.stringify(body) }, settings);
}
