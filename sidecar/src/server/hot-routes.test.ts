/**
 * The hot routes (open and close a run, answered before express's router) answer exactly as the
 * express app does: the same requests go to the sidecar's server and to a server of the app alone,
 * and the answers are compared (status, Content-Type and body; run ids aside).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import { parseConfig } from '../config.js';
import { createHotRoutes } from './hot-routes.js';
import { type RunningSidecar, startSidecar } from './sidecar.js';

const TOKEN = 'd'.repeat(64);
let fake: FakeRoot;
let sidecar: RunningSidecar;
let expressOnly: http.Server;
let expressPort: number;

beforeAll(async () => {
  fake = new FakeRoot();
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000_000 });
  const config = parseConfig(
    { dataDir: fake.path('data'), runtimeDir: fake.path('rt'), sysfsRoot: fake.sysfsRoot },
    {},
  );
  sidecar = await startSidecar(config, { token: TOKEN, log: () => {}, systemInfo: false });
  expressOnly = http.createServer(sidecar.app);
  await new Promise<void>(resolve => expressOnly.listen(0, '127.0.0.1', resolve));
  expressPort = (expressOnly.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise(resolve => expressOnly.close(resolve));
  await sidecar.close();
  fake.cleanup();
});

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
}

function send(port: number, path: string, body: Buffer | string | null, headers: Record<string, string>) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { Host: `127.0.0.1:${port}`, ...headers } },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            type: res.headers['content-type'],
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

const auth = { Authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'Content-Type': 'application/json' };

/** Both servers' answers to the same request, run ids replaced. */
async function both(path: string | ((port: number) => string), body: Buffer | string | null, headers = json) {
  const at = (port: number) => (typeof path === 'string' ? path : path(port));
  const hot = await send(sidecar.port, at(sidecar.port), body, headers);
  const plain = await send(expressPort, at(expressPort), body, headers);
  // Run ids, timestamps and measured figures differ between two runs; the rest must not.
  const scrub = (a: Answer) => ({
    ...a,
    body: a.body
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
      .replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z/g, '<time>')
      .replace(/":-?\d+(\.\d+)?(e[-+]?\d+)?([,}])/g, '":<n>$3')
      // Whether a window spans a few counter updates depends on its length, like the figures.
      .replace(/"(quality|windowQuality)":"(fine|coarse)"/g, '"$1":"<q>"'),
  });
  return { hot: scrub(hot), plain: scrub(plain) };
}

async function openRunId(): Promise<string> {
  const res = await fetch(`${sidecar.url}/api/v1/runs`, { method: 'POST', headers: json, body: '{}' });
  return ((await res.json()) as { run: { id: string } }).run.id;
}

describe('hot routes answer as the express app does', () => {
  const bodies: [string, Buffer | string | null, Record<string, string>?][] = [
    ['no token', '{}', { 'Content-Type': 'application/json' }],
    ['a wrong token', '{}', { Authorization: `Bearer ${'e'.repeat(64)}` }],
    ['a foreign Host', '{}', { ...json, Host: 'evil.example' }],
    ['a foreign Origin', '{}', { ...json, Origin: 'http://evil.example' }],
    ['malformed JSON', '{"kind":', json],
    ['a JSON array', '[1,2]', json],
    ['JSON null', 'null', json],
    ['a JSON string', '"cell"', json],
    ['a bad field', '{"kind":"cell","country":"es"}', json],
    ['several bad fields', '{"kind":"nope","pue":9}', json],
    ['an empty body', '', json],
    ['no body at all', null, auth],
    ['a text/plain body', '{"kind":"cell"}', { ...auth, 'Content-Type': 'text/plain' }],
    ['a latin1 charset', '{"kind":"cell"}', { ...auth, 'Content-Type': 'application/json; charset=latin1' }],
    ['a gzip body', gzipSync('{"kind":"function"}'), { ...json, 'Content-Encoding': 'gzip' }],
    ['a bad gzip body', 'not gzip', { ...json, 'Content-Encoding': 'gzip' }],
    ['a body over the limit', `{"label":"${'x'.repeat(1_100_000)}"}`, json],
    ['a UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"kind":"cell"}')]), json],
  ];

  it.each(bodies)('POST /api/v1/runs with %s', async (_what, body, headers) => {
    const { hot, plain } = await both('/api/v1/runs', body, headers);
    expect(hot).toEqual(plain);
  });

  it.each(bodies)('POST /api/v1/runs/:id/close with %s', async (_what, body, headers) => {
    // Each server closes its own run: the same state on both sides.
    const ids = [await openRunId(), await openRunId()];
    let i = 0;
    const { hot, plain } = await both(() => `/api/v1/runs/${ids[i++]}/close`, body, headers);
    expect(hot).toEqual(plain);
  });

  it('answers an unknown run, a closed run and an odd path alike', async () => {
    for (const path of ['/api/v1/runs/nope/close', '/api/v1/runs/x%20y/close', '/api/v1/runs/a/close?x=1']) {
      const { hot, plain } = await both(path, '{}');
      expect(hot).toEqual(plain);
    }
    const id = await openRunId();
    await send(sidecar.port, `/api/v1/runs/${id}/close`, '{}', json);
    const { hot, plain } = await both(`/api/v1/runs/${id}/close`, '{"status":"error"}');
    expect(hot.status).toBe(200);
    expect(hot).toEqual(plain);
  });

  it('takes only POST /api/v1/runs and POST /api/v1/runs/<plain id>/close; the rest goes to the app', async () => {
    const hot = createHotRoutes({
      token: TOKEN,
      bodyLimit: '1mb',
      ledger: sidecar.ledger,
      outputs: sidecar.outputs,
      log: () => {},
    });
    const toApp: string[] = [];
    const server = http.createServer((req, res) => {
      if (hot(req, res)) return;
      toApp.push(`${req.method} ${req.url}`);
      res.writeHead(418).end();
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const id = await openRunId();
      expect((await send(port, '/api/v1/runs', '{}', json)).status).toBe(201);
      expect((await send(port, `/api/v1/runs/${id}/close`, '{}', json)).status).toBe(200);
      expect((await send(port, '/api/v1/runs/nope/close', '{}', json)).status).toBe(404);
      expect(toApp).toEqual([]);
      for (const path of [
        '/api/v1/runs/',
        '/API/V1/RUNS',
        '/api/v1/runs?x=1',
        `/api/v1/runs/${id}/close/`,
        '/api/v1/runs/a%2Fb/close',
      ]) {
        expect((await send(port, path, '{}', json)).status).toBe(418);
      }
      expect(toApp).toHaveLength(5);
    } finally {
      await new Promise(resolve => server.close(resolve));
    }
  });
});
