import { afterEach, describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../../test-support/make-run.js';
import { type MockEndpoint, startMockEndpoint } from '../../../test-support/mock-endpoint.js';
import { pyJson } from '../py-format.js';
import { runToRecord } from '../record.js';

const TOKEN = 'e'.repeat(64);
let endpoint: MockEndpoint;
afterEach(async () => {
  await endpoint?.close();
});

const body = () => pyJson(runToRecord(makeRun(), HARDWARE, { modelId: 'a'.repeat(64) }));
const post = (text: string, headers: Record<string, string> = {}) =>
  fetch(endpoint.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: text,
  });

describe('pnav mock-pnav', () => {
  it('201 for a calculadorapnav record, 401 without a token, 400 naming the problem', async () => {
    endpoint = await startMockEndpoint();
    expect((await post(body())).status).toBe(201);
    const noToken = await post(body(), { authorization: '' });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({ message: 'invalid or missing token' });
    const reordered = JSON.parse(body());
    const { pue, ...rest } = reordered;
    const badOrder = await post(JSON.stringify({ pue, ...rest }));
    expect(badOrder.status).toBe(400);
    expect((await badOrder.json()).message).toBe(
      'keys must follow calculadorapnav column order (timestamp, type_process, model_id, …, on_cloud, pue)',
    );
    const badType = await post(body().replace('"n_batch": 0', '"n_batch": "ten"'));
    expect(badType.status).toBe(400);
    expect((await badType.json()).message).toMatch(/^n_batch: /);
    const { received } = await endpoint.received();
    expect(received.map(r => r.status)).toEqual([201, 401, 400, 400]);
    expect(JSON.stringify(received)).not.toContain(TOKEN);
  });

  it('fails the next N requests with a status and Retry-After, dedupes on Idempotency-Key', async () => {
    endpoint = await startMockEndpoint();
    await endpoint.control({ failNext: 2, status: 503, retryAfterS: 7 });
    const first = await post(body(), { 'idempotency-key': 'k1' });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await post(body(), { 'idempotency-key': 'k1' })).status).toBe(503);
    expect((await post(body(), { 'idempotency-key': 'k1' })).status).toBe(201);
    const again = await post(body(), { 'idempotency-key': 'k1' });
    expect(again.status).toBe(200);
    expect((await again.json()).duplicate).toBe(true);
    expect((await endpoint.received()).accepted).toBe(1);
  });
});
