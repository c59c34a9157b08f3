import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServerConnection } from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PnavApiError, PnavNetworkError } from './errors';
import { apiUrl, postAPI, requestAPI, wsApiUrl } from './request';

let server: Server;
let settings: ServerConnection.ISettings;
const seen: { url: string; auth: string | undefined; contentType: string | undefined; body: string }[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', chunk => {
    body += chunk;
  });
  req.on('end', () => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ url: req.url ?? '', auth: req.headers.authorization, contentType: req.headers['content-type'], body });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (path === '/base/pnav/api/v1/status') return json(200, { version: '1.2.3' });
    if (path === '/base/pnav/api/v1/runs') {
      return json(400, {
        error: { code: 'bad_request', message: 'invalid body', issues: [{ path: 'modelId', message: 'must be hex' }] },
      });
    }
    if (path === '/base/pnav/api/v1/empty') {
      res.writeHead(204);
      return res.end();
    }
    res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end('sidecar not reachable');
  });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  settings = ServerConnection.makeSettings({
    baseUrl: `http://127.0.0.1:${port}/base/`,
    wsUrl: `ws://127.0.0.1:${port}/base/`,
    token: 'jupyter-token',
    appendToken: true,
  });
});

afterAll(() => new Promise<void>(ok => server.close(() => ok())));

describe('request', () => {
  it('builds the proxy URLs from the server settings', () => {
    expect(apiUrl(settings, 'runs/r1')).toBe(`${settings.baseUrl}pnav/api/v1/runs/r1`);
    expect(wsApiUrl(settings, 'stream')).toBe(`${settings.wsUrl}pnav/api/v1/stream?token=jupyter-token`);
  });

  it('sends the Jupyter token and returns the JSON body', async () => {
    await expect(requestAPI('status', {}, settings)).resolves.toEqual({ version: '1.2.3' });
    expect(seen.at(-1)?.auth).toBe('token jupyter-token');
    await expect(requestAPI('empty', {}, settings)).resolves.toBeUndefined();
  });

  it('turns the sidecar error envelope into a PnavApiError naming the field', async () => {
    const error = await postAPI('runs', { modelId: 'x' }, settings).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PnavApiError);
    expect(error).toMatchObject({ status: 400, code: 'bad_request', message: 'invalid body' });
    expect((error as PnavApiError).detail).toBe('invalid body (modelId: must be hex)');
    expect(seen.at(-1)).toMatchObject({ contentType: 'application/json', body: '{"modelId":"x"}' });
  });

  it('keeps a plain-text failure short and typed', async () => {
    const error = await requestAPI('elsewhere', {}, settings).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'http_502', message: 'sidecar not reachable' });
  });

  it('reports an unreachable server as a PnavNetworkError', async () => {
    const closed = ServerConnection.makeSettings({ baseUrl: 'http://127.0.0.1:9/', token: 't' });
    await expect(requestAPI('status', {}, closed)).rejects.toBeInstanceOf(PnavNetworkError);
  });
});
