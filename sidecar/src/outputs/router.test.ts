import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../test-support/make-run.js';
import { type MockEndpoint, startMockEndpoint, waitFor } from '../../test-support/mock-endpoint.js';
import type { Run } from '../api/schemas.js';
import { PNAV_COLUMNS, PNAV_HEADER } from './csv/columns.js';
import { createPnavOutputs, type PnavOutputs } from './index.js';

const TOKEN = 'ABCDEF0123456789'.repeat(4); // upper case: normalised like calculadorapnav's prompt
const MODEL_ID = 'd'.repeat(64);

let dataDir: string;
let outputs: PnavOutputs;
let app: express.Express;
let endpoint: MockEndpoint | null = null;
let logs: string[];
let runs: Run[];

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'pnav-router-'));
  logs = [];
  runs = [
    makeRun({ id: 't1', endedAt: '2026-03-02T10:00:00.000Z', nEpoch: 2 }),
    makeRun({ id: 't2', endedAt: '2026-03-02T11:00:00.000Z', nParameters: 55, modelName: 'Linear' }),
    makeRun({ id: 'i1', typeProcess: 'inference', endedAt: '2026-03-02T12:00:00.000Z' }),
    makeRun({ id: 'other', notebookPath: 'other.ipynb' }),
    { ...makeRun({ id: 'open1' }), status: 'open', endedAt: null },
  ];
  outputs = createPnavOutputs({
    dataDir,
    runs: {
      get: id => runs.find(r => r.id === id),
      list: f =>
        runs.filter(
          r =>
            (f.notebookPath === undefined || r.notebookPath === f.notebookPath) &&
            (f.typeProcess === undefined || r.typeProcess === f.typeProcess),
        ),
    },
    hardware: () => HARDWARE,
    log: m => logs.push(m),
    outbox: { baseDelayMs: 20 },
  });
  app = express();
  app.use(express.json());
  app.use('/api/v1', outputs.router);
});
afterEach(async () => {
  await outputs.stop();
  await endpoint?.close();
  endpoint = null;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('POST /api/v1/exports', () => {
  it('csv of a notebook: one row per closed run, attachment headers', async () => {
    const res = await request(app).post('/api/v1/exports').send({ format: 'csv', notebookPath: 'work/train.ipynb' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="emissions.csv"');
    const lines = res.text.trimEnd().split('\n');
    expect(lines[0]).toBe(PNAV_HEADER);
    expect(lines).toHaveLength(4); // t1, t2, i1; not the open run, not the other notebook
  });

  it('csv aggregated per type_process', async () => {
    const res = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'csv', notebookPath: 'work/train.ipynb', typeProcess: 'training', aggregate: true });
    expect(res.headers['content-disposition']).toBe('attachment; filename="emissions_training.csv"');
    const [, row] = res.text.trimEnd().split('\n');
    expect(row.split(',')[4]).toBe('240.0'); // two 120 s runs
  });

  it('json: an array of calculadorapnav records with the 40 keys in order, then how each figure was obtained', async () => {
    const res = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'json', runIds: ['t1', 'i1'] });
    expect(res.status).toBe(200);
    const records = JSON.parse(res.text) as { methods: Record<string, string>[] }[];
    expect(records).toHaveLength(2);
    expect(Object.keys(records[0]!)).toEqual([...PNAV_COLUMNS, 'methods']);
    expect(records[0]!.methods.map(m => [m.component, m.method, m.measurement])).toEqual([
      ['cpu', 'rapl', 'measured'],
      ['gpu', 'rapl', 'excluded'],
      ['ram', 'rapl', 'measured'],
    ]);
    expect(res.text).toContain('"pue": 1.0');
  });

  it('boamps: one report; mixed process types need typeProcess', async () => {
    const mixed = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'boamps', notebookPath: 'work/train.ipynb' });
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.code).toBe('bad_request');
    expect(mixed.body.error.message).toBe(
      'typeProcess: a BoAmps report covers one process type; choose training or inference',
    );
    const res = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'boamps', notebookPath: 'work/train.ipynb', typeProcess: 'training' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).task.taskStage).toBe('training');
  });

  it('rejects bad input with 4xx naming the field', async () => {
    const noFormat = await request(app)
      .post('/api/v1/exports')
      .send({ runIds: ['t1'] });
    expect(noFormat.status).toBe(400);
    expect(noFormat.body.error.issues[0].path).toBe('format');
    const noSelection = await request(app).post('/api/v1/exports').send({ format: 'csv' });
    expect(noSelection.status).toBe(400);
    expect(noSelection.body.error.message).toBe('runIds: give runIds or notebookPath');
    const unknown = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'csv', runIds: ['t1', 'nope'] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'not_found', message: 'unknown run id(s): nope' });
    const open = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'csv', runIds: ['open1'] });
    expect(open.status).toBe(409);
    const empty = await request(app).post('/api/v1/exports').send({ format: 'csv', notebookPath: 'none.ipynb' });
    expect(empty.status).toBe(404);
    expect(empty.body.error.message).toBe('no closed runs for notebook none.ipynb');
  });
});

describe('POST /api/v1/records/preview', () => {
  it('aggregates the training runs of a notebook into one record', async () => {
    const res = await request(app)
      .post('/api/v1/records/preview')
      .send({ notebookPath: 'work/train.ipynb', typeProcess: 'training' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.record)).toEqual([...PNAV_COLUMNS]);
    expect(res.body.record.duration).toBe(240);
    expect(res.body.record.n_parameters).toBe(55);
    expect(res.body.runIds).toEqual(['t1', 't2']);
  });

  it('leaves failed and interrupted runs out, names them, and includes them with recordFailed', async () => {
    runs.push(
      makeRun({ id: 'failed1', status: 'error', endedAt: '2026-03-02T13:00:00.000Z' }),
      makeRun({ id: 'cut1', status: 'interrupted', endedAt: '2026-03-02T14:00:00.000Z' }),
    );
    const selection = { notebookPath: 'work/train.ipynb', typeProcess: 'training' };
    const res = await request(app).post('/api/v1/records/preview').send(selection);
    expect(res.body.runIds).toEqual(['t1', 't2']);
    expect(res.body.excludedRunIds).toEqual(['failed1', 'cut1']);
    expect(res.body.location).toMatchObject({ countryIso3: 'ESP', countrySource: 'run' });
    const all = await request(app)
      .post('/api/v1/records/preview')
      .send({ ...selection, recordFailed: true });
    expect(all.body.runIds).toEqual(['t1', 't2', 'failed1', 'cut1']);
    expect(all.body.excludedRunIds).toEqual([]);
    const csv = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'csv', runIds: ['t1', 'failed1'] });
    expect(csv.text.trimEnd().split('\n')).toHaveLength(2); // header + t1
    const json = await request(app)
      .post('/api/v1/exports')
      .send({ format: 'json', runIds: ['t1', 'failed1'] });
    expect(JSON.parse(json.text)).toHaveLength(2); // the JSON export keeps everything
    const onlyFailed = await request(app)
      .post('/api/v1/uploads')
      .send({
        endpointUrl: 'http://127.0.0.1:9/x',
        token: TOKEN,
        modelId: MODEL_ID,
        runIds: ['failed1'],
        typeProcess: 'training',
      });
    expect(onlyFailed.status).toBe(409);
    expect(onlyFailed.body.error.message).toBe(
      'every selected run failed or was interrupted (failed1); they are not recorded for PNAV unless recordFailed is true',
    );
  });

  it('requires typeProcess', async () => {
    const res = await request(app).post('/api/v1/records/preview').send({ notebookPath: 'work/train.ipynb' });
    expect(res.status).toBe(400);
    expect(res.body.error.issues[0].path).toBe('typeProcess');
  });
});

describe('uploads', () => {
  it('queues, sends and reports status, never echoing the token', async () => {
    endpoint = await startMockEndpoint();
    outputs.start();
    const res = await request(app).post('/api/v1/uploads').send({
      endpointUrl: endpoint.url,
      token: TOKEN,
      modelId: MODEL_ID,
      notebookPath: 'work/train.ipynb',
      typeProcess: 'training',
    });
    expect(res.status).toBe(202);
    expect(JSON.stringify(res.body).toLowerCase()).not.toContain(TOKEN.toLowerCase());
    const [upload] = res.body.uploads;
    expect(upload.runIds).toEqual(['t1', 't2']);
    await waitFor(async () => {
      const r = await request(app).get(`/api/v1/uploads/${upload.id}`);
      return r.body.upload.status === 'sent' ? true : undefined;
    });
    const list = await request(app).get('/api/v1/uploads').query({ notebookPath: 'work/train.ipynb' });
    expect(list.body.uploads.map((u: { id: string }) => u.id)).toEqual([upload.id]);
    const { received } = await endpoint.received();
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0].rawBody).model_id).toBe(MODEL_ID);
    expect(logs.join('\n').toLowerCase()).not.toContain(TOKEN.toLowerCase());
  });

  it('rejects a bad token, model id and endpoint, naming each field and never the token', async () => {
    const badToken = 'zz-not-a-token-zz';
    const res = await request(app)
      .post('/api/v1/uploads')
      .send({
        endpointUrl: 'ftp://x',
        token: badToken,
        modelId: 'A'.repeat(64),
        notebookPath: 'work/train.ipynb',
        typeProcess: 'training',
      });
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'endpointUrl',
      'modelId',
      'token',
    ]);
    expect(JSON.stringify(res.body)).not.toContain(badToken);
  });

  it('says a record was already sent instead of queuing it again, and sends it again only on purpose', async () => {
    endpoint = await startMockEndpoint();
    outputs.start();
    const body = {
      endpointUrl: endpoint.url,
      token: TOKEN,
      modelId: MODEL_ID,
      notebookPath: 'work/train.ipynb',
      typeProcess: 'training',
    };
    const first = await request(app).post('/api/v1/uploads').send(body);
    expect(first.status).toBe(202);
    expect(first.body.duplicate).toBe(false);
    const id = first.body.uploads[0].id;
    await waitFor(async () =>
      (await request(app).get(`/api/v1/uploads/${id}`)).body.upload.status === 'sent' ? true : undefined,
    );
    const again = await request(app).post('/api/v1/uploads').send(body);
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    expect(again.body.uploads[0]).toMatchObject({ id, status: 'sent' });
    expect(again.body.uploads[0].sentAt).not.toBeNull();
    const resent = await request(app)
      .post('/api/v1/uploads')
      .send({ ...body, resend: true });
    expect(resent.status).toBe(202);
    expect(resent.body.duplicate).toBe(false);
    expect(resent.body.uploads[0].id).not.toBe(id);
    await waitFor(async () => ((await endpoint?.received())?.received.length === 2 ? true : undefined));
  });

  it('cancels a retrying upload (forgetting its token) and sends a failed one again with a new token', async () => {
    // Nothing listens on port 9 of loopback: every attempt is refused and retried.
    outputs.start();
    const queued = await request(app)
      .post('/api/v1/uploads')
      .send({
        endpointUrl: 'http://127.0.0.1:9/api',
        token: TOKEN,
        modelId: MODEL_ID,
        runIds: ['t1'],
        typeProcess: 'training',
      });
    const id = queued.body.uploads[0].id;
    await waitFor(async () =>
      (await request(app).get(`/api/v1/uploads/${id}`)).body.upload.status === 'retrying' ? true : undefined,
    );
    const cancelled = await request(app).post(`/api/v1/uploads/${id}/cancel`).send({});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.upload).toMatchObject({ status: 'failed', lastError: 'cancelled before it was sent' });
    // An attempt picked just before the cancel settles as cancelled too.
    await waitFor(async () =>
      (await request(app).get(`/api/v1/uploads/${id}`)).body.upload.status === 'failed' ? true : undefined,
    );
    const twice = await request(app).post(`/api/v1/uploads/${id}/cancel`).send({});
    expect(twice.status).toBe(409);
    expect(twice.body.error.message).toBe(`upload ${id} is already failed; nothing to cancel`);
    const withoutToken = await request(app).post(`/api/v1/uploads/${id}/retry`).send({});
    expect(withoutToken.status).toBe(400);
    expect(withoutToken.body.error.issues).toEqual([
      { path: 'token', message: 'required to send a failed upload again' },
    ]);
    const retried = await request(app).post(`/api/v1/uploads/${id}/retry`).send({ token: TOKEN });
    expect(retried.status).toBe(200);
    expect(['queued', 'sending', 'retrying']).toContain(retried.body.upload.status);
    await waitFor(async () => {
      const upload = (await request(app).get(`/api/v1/uploads/${id}`)).body.upload;
      return upload.attempts >= 2 && upload.status === 'retrying' ? true : undefined;
    });
    expect((await request(app).post('/api/v1/uploads/up-nope/retry').send({})).status).toBe(404);
  }, 30_000);

  it('waitMs answers with the first outcome: a 401 is final, with the server message and what to fix', async () => {
    endpoint = await startMockEndpoint(0, { token: 'f'.repeat(64) });
    outputs.start();
    const res = await request(app)
      .post('/api/v1/uploads')
      .send({
        endpointUrl: endpoint.url,
        token: TOKEN,
        modelId: MODEL_ID,
        runIds: ['t1'],
        typeProcess: 'training',
      });
    const outcome = await request(app).get(`/api/v1/uploads/${res.body.uploads[0].id}?waitMs=10000`);
    expect(outcome.body.upload).toMatchObject({
      status: 'failed',
      lastError: 'HTTP 401: invalid or missing token',
      fix: expect.stringMatching(/^the PNAV server refused the token: check token= \/ PNAV_TOKEN/),
    });
  });

  it('404 for an unknown upload id', async () => {
    const res = await request(app).get('/api/v1/uploads/up-unknown');
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'not_found', message: 'upload up-unknown not found' });
  });
});

describe('writeCsv and enqueue (used by run close)', () => {
  it('writes the run CSV and queues a validated submission', async () => {
    const out = path.join(dataDir, 'csv');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(out);
    const written = await outputs.writeCsv(runs[0], { dir: out, onCsvWrite: 'append' });
    expect(written.path).toBe(path.join(out, 'emissions_training.csv'));
    const queued = await outputs.enqueue(runs[0], {
      endpointUrl: 'https://pnav.example/v1',
      token: TOKEN,
      modelId: MODEL_ID,
    });
    expect(queued.status).toBe('queued');
    await expect(
      outputs.enqueue(runs[0], { endpointUrl: 'https://pnav.example/v1', token: 'secret-ish', modelId: MODEL_ID }),
    ).rejects.toThrow(
      'invalid PNAV submission: token: must be 64 hexadecimal characters (upper case and spaces are normalised)',
    );
  });
});
