/**
 * The OpenAPI description lists every route the app serves, and nothing it does not serve: a fuzzer
 * generates its requests from it. Checked against express's own routing table of a real sidecar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import { parseConfig } from '../config.js';
import { listRoutes } from './routes-list.js';
import { type RunningSidecar, startSidecar } from './sidecar.js';

const TOKEN = 'c'.repeat(64);
let fake: FakeRoot;
let sidecar: RunningSidecar;
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is data
let doc: any;

beforeAll(async () => {
  fake = new FakeRoot();
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000_000 });
  const config = parseConfig(
    { dataDir: fake.path('data'), runtimeDir: fake.path('rt'), sysfsRoot: fake.sysfsRoot },
    {},
  );
  sidecar = await startSidecar(config, { token: TOKEN, log: () => {}, systemInfo: false });
  const res = await fetch(`${sidecar.url}/api/v1/openapi.json`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => {
  await sidecar.close();
  fake.cleanup();
});

const documented = () =>
  Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map(method => `${method.toUpperCase()} ${path}`),
  );

describe('OpenAPI description', () => {
  it('lists every route the app serves, and only those', () => {
    const served = listRoutes(sidecar.app).map(r => `${r.method.toUpperCase()} ${r.path}`);
    // The table is really read: the routes of every router are there.
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'POST /api/v1/runs/{id}/epochs/{index}/close',
        'PUT /api/v1/config',
        'GET /api/v1/uploads/{id}',
      ]),
    );
    expect(served.filter(r => !documented().includes(r))).toEqual([]);
    expect(documented().filter(r => !served.includes(r))).toEqual([]);
  });

  it('documents the config routes with their schemas', () => {
    const put = doc.paths['/api/v1/config'].put;
    const body = put.requestBody.content['application/json'].schema;
    expect(body.properties.scope).toMatchObject({ type: 'string', enum: ['user', 'project'], default: 'user' });
    expect(body.required).toEqual(['key']);
    expect(Object.keys(put.responses['200'].content['application/json'].schema.properties)).toEqual([
      'setting',
      'written',
    ]);
    const get = doc.paths['/api/v1/config'].get;
    expect(get.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      'query:cwd',
      'query:env',
    ]);
  });

  it('documents the PNAV outputs routes with their schemas and status codes', () => {
    const uploads = doc.paths['/api/v1/uploads'].post;
    expect(uploads.responses['202']).toBeDefined();
    expect(uploads.requestBody.content['application/json'].schema.required).toEqual([
      'endpointUrl',
      'token',
      'modelId',
      'typeProcess',
    ]);
    expect(Object.keys(doc.paths['/api/v1/exports'].post.responses['200'].content)).toEqual([
      'text/csv',
      'application/json',
    ]);
    expect(doc.paths['/api/v1/uploads/{id}'].get.parameters).toEqual([
      expect.objectContaining({ in: 'path', name: 'id', required: true }),
      expect.objectContaining({ in: 'query', name: 'waitMs', required: false }),
    ]);
  });
});
