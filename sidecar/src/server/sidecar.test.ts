/**
 * The assembled sidecar over real HTTP and WebSocket on 127.0.0.1:0, with a fake powercap tree
 * (the hardware boundary) whose counter the tests move.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import { CloseRunResponseSchema, type Run, RunSchema, StatusSchema, type StreamMessage } from '../api/schemas.js';
import { parseConfig } from '../config.js';
import { type RunningSidecar, startSidecar } from './sidecar.js';
import { STREAM_FLUSH_MS } from './stream-batch.js';

const TOKEN = 'a'.repeat(64);
let fake: FakeRoot;
let sidecar: RunningSidecar;
let base: string;
let dataDir: string;

const auth = { Authorization: `Bearer ${TOKEN}` };

async function api(method: string, url: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text, headers: res.headers };
}

/** A raw request, for headers fetch will not let us forge (Host). */
async function raw(headers: Record<string, string>, urlPath = '/healthz') {
  const http = await import('node:http');
  return new Promise<{ status: number; body: { error: { code: string; message: string } } }>((resolve, reject) => {
    const req = http.request(`${base}${urlPath}`, { headers }, res => {
      let text = '';
      res.on('data', d => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  fake = new FakeRoot();
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000_000 });
  dataDir = fake.path('data');
  const config = parseConfig(
    { dataDir, runtimeDir: fake.path('rt'), sysfsRoot: fake.sysfsRoot, sampleInterval: 50, country: 'ESP' },
    {},
  );
  sidecar = await startSidecar(config, { token: TOKEN, log: () => {}, systemInfo: false });
  base = sidecar.url;
});
afterAll(async () => {
  await sidecar.close();
  fake.cleanup();
});

describe('access control', () => {
  it('answers 401 without a token and with a wrong one', async () => {
    expect(await api('GET', '/healthz', undefined, {})).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'missing Authorization: Bearer <token> header' } },
    });
    expect(await api('GET', '/api/v1/runs', undefined, { Authorization: `Bearer ${'b'.repeat(64)}` })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'invalid bearer token' } },
    });
  });

  it('proves it holds the token without a token on /healthz?challenge=, and checks the challenge', async () => {
    const { createHmac } = await import('node:crypto');
    const challenge = 'c'.repeat(64);
    const proof = createHmac('sha256', TOKEN).update(`pnav-sidecar-healthz:${challenge}`).digest('hex');
    expect(await api('GET', `/healthz?challenge=${challenge}`, undefined, {})).toMatchObject({
      status: 200,
      body: { ok: true, version: expect.any(String), proof },
    });
    expect(await api('GET', '/healthz?challenge=XYZ', undefined, {})).toMatchObject({
      status: 400,
      body: {
        error: { code: 'bad_request', message: 'challenge: must be 32 to 128 lowercase hexadecimal characters' },
      },
    });
    expect((await api('GET', '/api/v1/runs?challenge=' + challenge, undefined, {})).status).toBe(401);
  });

  it('answers 403 to a foreign Host (DNS rebinding) even with the token', async () => {
    const res = await raw({ ...auth, Host: `evil.example:${sidecar.port}` });
    expect(res).toEqual({
      status: 403,
      body: {
        error: {
          code: 'forbidden_host',
          message: `Host 'evil.example:${sidecar.port}' is not this sidecar's loopback address`,
        },
      },
    });
    expect((await raw({ ...auth, Host: `127.0.0.1:${sidecar.port + 1}` })).status).toBe(403);
    expect((await raw({ ...auth, Host: `localhost:${sidecar.port}` })).status).toBe(200);
  });

  it('answers 403 to a foreign Origin and accepts its own', async () => {
    const res = await raw({ ...auth, Origin: 'http://evil.example' });
    expect(res).toEqual({
      status: 403,
      body: { error: { code: 'forbidden_origin', message: "Origin 'http://evil.example' is not allowed" } },
    });
    expect((await raw({ ...auth, Origin: `http://localhost:${sidecar.port}` })).status).toBe(200);
  });
});

describe('runs API', () => {
  it('opens and closes a run with the energy read at those instants', async () => {
    fake.setEnergy('intel-rapl:0', 2_000_000);
    const opened = await api('POST', '/api/v1/runs', { kind: 'cell', notebookPath: 'nb.ipynb', pid: process.pid });
    expect(opened.status).toBe(201);
    const run: Run = RunSchema.parse(opened.body.run);
    expect(run.status).toBe('open');
    fake.setEnergy('intel-rapl:0', 9_000_000); // +7 J
    const closed = await api('POST', `/api/v1/runs/${run.id}/close`, { status: 'ok' });
    expect(closed.status).toBe(200);
    expect(closed.body.csv).toBeNull();
    expect(closed.body.upload).toBeNull();
    const c = RunSchema.parse(closed.body.run);
    expect(c.energy.cpu).toMatchObject({ energyJ: 7, method: 'rapl', measured: true });
    expect(c.location.countryIso3).toBe('ESP');
    expect(c.attribution?.method).toBe('per-component');
    expect(c.attribution?.components?.cpu.basis).toBe('cpu-time');
    // Every figure says what it covers and how it was obtained.
    expect(c.energyScope).toBe('machine');
    expect(c.energy.cpu).toMatchObject({ scope: 'machine', quality: 'fine', degraded: null });
    expect(c.energy.cpu.basis).toMatch(/package-0/);
    // Closing twice is harmless: 200 and the same run.
    const again = await api('POST', `/api/v1/runs/${run.id}/close`, { status: 'error' });
    expect(again.status).toBe(200);
    expect(again.body.run).toEqual(closed.body.run);
    // Read back and listed.
    expect((await api('GET', `/api/v1/runs/${run.id}`)).body.run).toEqual(closed.body.run);
    const list = await api('GET', '/api/v1/runs?notebookPath=nb.ipynb&limit=5');
    expect(list.body.runs.map((r: Run) => r.id)).toEqual([run.id]);
  });

  it('says why a submission asked for at close could not be queued (uploadError), never echoing the token', async () => {
    const submit = { endpointUrl: 'http://127.0.0.1:9/api/pnav', modelId: 'a'.repeat(64) };
    const bad = (await api('POST', '/api/v1/runs', { kind: 'cell' })).body.run.id;
    const refused = await api('POST', `/api/v1/runs/${bad}/close`, {
      submit: { ...submit, token: 'secret-token-xyz' },
    });
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ run: { status: 'ok' }, upload: null });
    expect(refused.body.uploadError).toBe(
      'could not queue the PNAV submission: invalid PNAV submission: token: must be 64 hexadecimal characters (upper case and spaces are normalised)',
    );
    expect(JSON.stringify(refused.body)).not.toContain('secret-token-xyz');
    const good = (await api('POST', '/api/v1/runs', { kind: 'cell' })).body.run.id;
    const queued = await api('POST', `/api/v1/runs/${good}/close`, { submit: { ...submit, token: 'b'.repeat(64) } });
    expect(queued.body).toMatchObject({
      upload: { id: expect.stringMatching(/^up-/), status: 'queued' },
      uploadError: null,
    });
    // The schema stays additive: responses validate with and without the field.
    expect(CloseRunResponseSchema.parse(queued.body).uploadError).toBeNull();
    const { uploadError: _, ...older } = queued.body;
    expect(CloseRunResponseSchema.safeParse(older).success).toBe(true);
  });

  it('a failed or interrupted run writes no PNAV CSV row and submits nothing, unless recordFailed', async () => {
    const dir = fs.mkdtempSync(fake.path('csv-out-'));
    const submit = { endpointUrl: 'http://127.0.0.1:9/api/pnav', modelId: 'a'.repeat(64), token: 'b'.repeat(64) };
    for (const status of ['error', 'interrupted'] as const) {
      const id = (await api('POST', '/api/v1/runs', { kind: 'function' })).body.run.id;
      const closed = await api('POST', `/api/v1/runs/${id}/close`, { status, output: { dir }, submit });
      expect(closed.body).toMatchObject({ run: { status }, csv: null, upload: null, uploadError: null });
      expect(closed.body.notRecorded).toBe(
        `the run ended ${status === 'error' ? 'with an error' : 'interrupted'}: no PNAV CSV row and no submission (recordFailed records it anyway)`,
      );
      expect((await api('GET', `/api/v1/runs/${id}`)).body.run.status).toBe(status); // still in the ledger
    }
    expect(fs.readdirSync(dir)).toEqual([]);
    const asked = (await api('POST', '/api/v1/runs', { kind: 'function' })).body.run.id;
    const recorded = await api('POST', `/api/v1/runs/${asked}/close`, {
      status: 'error',
      output: { dir },
      recordFailed: true,
    });
    expect(recorded.body.csv.path).toBe(`${dir}/emissions_training.csv`);
    expect(recorded.body.notRecorded).toBeNull();
  });

  it('handles epochs, batches and patches', async () => {
    const { body } = await api('POST', '/api/v1/runs', { typeProcess: 'training' });
    const id = body.run.id;
    expect((await api('POST', `/api/v1/runs/${id}/epochs`, {})).body.epoch).toMatchObject({ index: 0, status: 'open' });
    expect((await api('POST', `/api/v1/runs/${id}/batches`, { n: 4 })).body.run.batchesCounted).toBe(4);
    const e = await api('POST', `/api/v1/runs/${id}/epochs/0/close`, {});
    expect(e.body.epoch).toMatchObject({ index: 0, status: 'ok', nBatch: 4 });
    expect((await api('PATCH', `/api/v1/runs/${id}`, { label: 'resnet' })).body.run.label).toBe('resnet');
    const closed = await api('POST', `/api/v1/runs/${id}/close`, {});
    expect(closed.body.run).toMatchObject({ nEpoch: 1, nBatch: 4, label: 'resnet', status: 'ok' });
    expect((await api('POST', `/api/v1/runs/${id}/batches`, { n: 1 })).body).toEqual({
      error: { code: 'conflict', message: `cannot count batches of run ${id}: it is ok, not open` },
    });
  });

  it('answers 404 for unknown runs, epochs and routes', async () => {
    expect(await api('GET', '/api/v1/runs/nope')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'run nope not found' } },
    });
    expect((await api('POST', '/api/v1/runs/nope/close', {})).status).toBe(404);
    expect((await api('POST', '/api/v1/runs/nope/epochs', {})).status).toBe(404);
    expect(await api('GET', '/api/v1/nothing')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'no route GET /api/v1/nothing' } },
    });
  });

  it('answers 400 naming the bad field', async () => {
    expect(await api('POST', '/api/v1/runs', { kind: 'cell', country: 'es' })).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'bad_request',
          message: 'country: must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP',
          issues: [{ path: 'country', message: 'must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP' }],
        },
      },
    });
    const bad = await api('POST', '/api/v1/runs', { model: { nParameters: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^model\.nParameters: /);
    const q = await api('GET', '/api/v1/runs?limit=0');
    expect(q.status).toBe(400);
    expect(q.body.error.message).toMatch(/^limit: /);
    const idx = await api('POST', '/api/v1/runs/x/epochs/minus/close', {});
    expect(idx.status).toBe(400);
    expect(idx.body.error.message).toMatch(/^index: /);
  });

  it('refuses relative paths naming the field (output.dir, cwd), and never creates a missing output dir', async () => {
    const relative =
      "must be an absolute path (a relative one would resolve against the sidecar's working directory, not the notebook's)";
    expect(await api('POST', '/api/v1/runs', { kind: 'cell', cwd: 'notebooks' })).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request', message: `cwd: ${relative}` } },
    });
    const id = (await api('POST', '/api/v1/runs', { kind: 'cell', cwd: fake.path('') })).body.run.id;
    expect(await api('POST', `/api/v1/runs/${id}/close`, { output: { dir: 'out' } })).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request', message: `output.dir: ${relative}` } },
    });
    expect(await api('GET', '/api/v1/config?cwd=.')).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request', message: `cwd: ${relative}` } },
    });
    expect(await api('PUT', '/api/v1/config', { key: 'pue', value: 1.2, scope: 'project', cwd: 'proj' })).toMatchObject(
      {
        status: 400,
        body: { error: { code: 'bad_request', message: `cwd: ${relative}` } },
      },
    );
    // The run is still open after the refused close; a missing (absolute) dir is an error, not created.
    const missing = fake.path('no-such-output-dir');
    const closed = await api('POST', `/api/v1/runs/${id}/close`, { output: { dir: missing } });
    expect(closed.status).toBe(200);
    expect(closed.body.csv).toEqual({
      path: null,
      epochsPath: null,
      methodsPath: null,
      error: `output directory '${missing}' does not exist`,
    });
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('answers 400 to malformed JSON and 413 to a body over the limit, and keeps serving', async () => {
    expect(await api('POST', '/api/v1/runs', '{"kind":')).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request' } },
    });
    expect((await api('POST', '/api/v1/runs', '[1,2]')).status).toBe(400);
    const big = { label: 'x'.repeat(2 * 1024 * 1024) };
    expect(await api('POST', '/api/v1/runs', big)).toEqual({
      status: 413,
      body: { error: { code: 'payload_too_large', message: 'request body is larger than 1mb' } },
      headers: expect.anything(),
    });
    expect((await api('GET', '/healthz')).body).toEqual({ ok: true, version: expect.any(String) });
  });
});

describe('status, samples, metrics, openapi', () => {
  it('serves status matching its schema', async () => {
    const status = StatusSchema.parse((await api('GET', '/api/v1/status')).body);
    expect(status.sources.find(s => s.component === 'cpu')).toMatchObject({
      id: expect.any(String),
      method: 'rapl',
      available: true,
    });
    expect(status.location.countryIso3).toBe('ESP');
  });

  it('serves a sample history that grows with ticks', async () => {
    await new Promise(r => setTimeout(r, 200));
    const { body } = await api('GET', '/api/v1/samples');
    expect(body.samples.length).toBeGreaterThan(1);
    expect(body.samples[0]).toMatchObject({ t: expect.any(Number), powerW: { cpu: expect.any(Number), gpu: null } });
    const since = body.samples.at(-1).t;
    const later = await api('GET', `/api/v1/samples?sinceMs=${since}`);
    expect(later.body.samples.every((s: { t: number }) => s.t >= since)).toBe(true);
  });

  it('serves Prometheus text with power, energy counters and open runs', async () => {
    const res = await api('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    // Every series carries host and user (one sidecar per user per machine), after its own labels.
    const hostUser = 'host="[^"]+",user="[^"]+"';
    const cpuRapl = 'component="cpu",method="rapl",measured="true"';
    expect(res.body).toMatch(new RegExp(`^pnav_power_watts\\{${cpuRapl},${hostUser}\\} [0-9.e+-]+$`, 'm'));
    expect(res.body).toMatch(new RegExp(`^pnav_energy_joules_total\\{${cpuRapl},${hostUser}\\} [0-9.e+-]+$`, 'm'));
    expect(res.body).toMatch(new RegExp(`^pnav_open_runs\\{${hostUser}\\} \\d+$`, 'm'));
    expect(res.body).toMatch(new RegExp(`^pnav_runs_closed_total\\{kind="cell",status="ok",${hostUser}\\} \\d+$`, 'm'));
  });

  it('serves an OpenAPI document generated from the schemas', async () => {
    const { status, body } = await api('GET', '/api/v1/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/runs', '/api/v1/runs/{id}/close', '/api/v1/runs/{id}/epochs/{index}/close']),
    );
    expect(body.components.schemas.Run.properties.energyJ).toEqual({ type: 'number' });
  });
});

describe('WebSocket stream', () => {
  const wsUrl = () => `${base.replace('http', 'ws')}/api/v1/stream`;

  function refused(headers: Record<string, string>, url = wsUrl()): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.on('open', () => reject(new Error('upgrade was accepted')));
      ws.on('error', () => {});
    });
  }

  it('refuses upgrades without the token, from a foreign Origin or Host, and on other paths', async () => {
    expect(await refused({})).toBe(401);
    expect(await refused({ ...auth, Origin: 'http://evil.example' })).toBe(403);
    expect(await refused({ ...auth, Host: 'evil.example' })).toBe(403);
    expect(await refused(auth, `${base.replace('http', 'ws')}/api/v1/other`)).toBe(404);
  });

  it('sends hello, samples and run events to an authorised client', async () => {
    const ws = new WebSocket(wsUrl(), { headers: auth });
    const messages: StreamMessage[] = [];
    ws.on('message', data => messages.push(JSON.parse(String(data))));
    await new Promise(r => ws.once('open', r));
    const { body } = await api('POST', '/api/v1/runs', { kind: 'manual' });
    await new Promise(r => setTimeout(r, STREAM_FLUSH_MS + 200)); // ticks are sent in batches
    await api('POST', `/api/v1/runs/${body.run.id}/close`, {});
    await new Promise(r => setTimeout(r, 50));
    ws.close();
    expect(messages[0]!.type).toBe('hello');
    const kinds = messages.map(m => (m.type === 'run' ? `run:${m.event}` : m.type));
    expect(kinds).toContain('sample');
    expect(kinds).toContain('run:opened');
    expect(kinds).toContain('run:progress');
    expect(kinds.indexOf('run:closed')).toBeGreaterThan(kinds.indexOf('run:progress'));
  });
});

describe('open-run cap over HTTP', () => {
  it('answers 429 too_many_open_runs with Retry-After past --max-open-runs, on the hot route and after a close opens again', async () => {
    const capped = new FakeRoot();
    capped.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000_000 });
    const config = parseConfig(
      {
        dataDir: capped.path('data'),
        runtimeDir: capped.path('rt'),
        sysfsRoot: capped.sysfsRoot,
        country: 'ESP',
        maxOpenRuns: 2,
      },
      {},
    );
    const small = await startSidecar(config, { token: TOKEN, log: () => {}, systemInfo: false });
    try {
      const open = () =>
        fetch(`${small.url}/api/v1/runs`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ kind: 'manual' }),
        });
      const first = await (await open()).json();
      expect((await open()).status).toBe(201);
      const refused = await open();
      expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '5']);
      expect(await refused.json()).toEqual({
        error: {
          code: 'too_many_open_runs',
          message: '2 runs are open, the most this sidecar keeps (--max-open-runs 2); close some first',
        },
      });
      await fetch(`${small.url}/api/v1/runs/${first.run.id}/close`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: '{}',
      });
      expect((await open()).status).toBe(201);
    } finally {
      await small.close();
      capped.cleanup();
    }
  });
});
