/**
 * kill -9 of the sidecar with runs open and a PNAV record queued: after a restart on the same
 * data dir, closed runs are intact, open runs come back `interrupted` with their checkpointed
 * energy, and the queued record is delivered to a real `pnav mock-pnav` exactly once.
 */
import { afterEach, expect, it } from 'vitest';
import {
  exitOf,
  listRuns,
  openRun,
  request,
  type SidecarProcess,
  spawnCli,
  startSidecar,
  tmpDir,
  waitFor,
} from './support/sidecar-process.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function startMockPnav(): Promise<{ base: string; stop: () => Promise<unknown> }> {
  const proc = spawnCli(['mock-pnav', '--port', '0']);
  let out = '';
  proc.stdout!.on('data', d => {
    out += d;
  });
  proc.stderr!.on('data', d => {
    out += d;
  });
  const base = await waitFor('mock-pnav to listen', () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
  const stop = async () => {
    proc.kill('SIGTERM');
    await exitOf(proc);
  };
  cleanup.push(stop);
  return { base, stop };
}

async function mock(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}

const TOKEN = 'a'.repeat(64);
const MODEL_ID = 'b'.repeat(64);

it('closed runs intact, open runs interrupted with their checkpoint, the queue delivered exactly once', async () => {
  const pnav = await startMockPnav();
  await mock(pnav.base, 'POST', '/__control', { failNext: 1000, status: 503 }); // the endpoint is "down"
  const dataDir = tmpDir('data');
  const runtimeDir = tmpDir('runtime');
  const args = ['--checkpoint-interval', '200', '--sample-interval', '200'];
  const first: SidecarProcess = await startSidecar({ dataDir, runtimeDir, args });
  cleanup.push(() => first.kill9());

  const done = await openRun(first, { typeProcess: 'training', label: 'closed before the crash' });
  await new Promise(r => setTimeout(r, 300));
  const closeReply = await request(first, 'POST', `/api/v1/runs/${done.id}/close`, { body: { status: 'ok' } });
  expect(closeReply.status).toBe(200);
  const closedBefore = closeReply.json.run;

  const openA = await openRun(first, { typeProcess: 'training', label: 'open A' });
  const openB = await openRun(first, { typeProcess: 'inference', label: 'open B' });
  expect((await request(first, 'POST', `/api/v1/runs/${openA.id}/epochs`, { body: {} })).status).toBe(201);

  const queued = await request(first, 'POST', '/api/v1/uploads', {
    body: {
      endpointUrl: `${pnav.base}/v1/emissions`,
      token: TOKEN,
      modelId: MODEL_ID,
      runIds: [done.id],
      typeProcess: 'training',
    },
  });
  expect(queued.status, queued.text).toBe(202);
  const uploadId = queued.json.uploads[0].id as string;
  // At least one attempt failed (503): the record sits in the outbox, retrying.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const got = await mock(pnav.base, 'GET', '/__received');
    if (got.received.length >= 1) break;
    if (Date.now() > deadline) throw new Error('the sidecar never tried to deliver the record');
    await new Promise(r => setTimeout(r, 100));
  }
  const beforeCrash = (await request(first, 'GET', `/api/v1/uploads/${uploadId}`)).json.upload;
  expect(['queued', 'retrying', 'sending']).toContain(beforeCrash.status);
  await new Promise(r => setTimeout(r, 600)); // a few checkpoints of the open runs
  const liveA = (await request(first, 'GET', `/api/v1/runs/${openA.id}`)).json.run;
  expect(liveA.energyJ).toBeGreaterThan(0);

  await first.kill9();
  await mock(pnav.base, 'POST', '/__control', { failNext: 0 }); // the endpoint comes back

  const second = await startSidecar({ dataDir, runtimeDir, args });
  cleanup.push(() => second.stop());
  const runs = await listRuns(second);
  expect(runs).toHaveLength(3);
  const byId = new Map(runs.map(r => [r.id, r]));
  expect(byId.get(done.id)).toEqual(closedBefore);
  for (const id of [openA.id, openB.id]) {
    const r = byId.get(id)!;
    expect(r.status).toBe('interrupted');
    expect(r.energyJ as number).toBeGreaterThan(0); // energy up to the last checkpoint, not lost
    expect(r.endedAt).not.toBeNull();
  }
  const epochs = byId.get(openA.id)!.epochs as { status: string }[];
  expect(epochs.map(e => e.status)).toEqual(['interrupted']);

  const sentDeadline = Date.now() + 120_000;
  // The outbox is read from disk when the sidecar starts: the record must be there at once.
  let afterRestart = await request(second, 'GET', `/api/v1/uploads/${uploadId}`);
  const firstLook = afterRestart.status;
  const lookDeadline = Date.now() + 5000;
  while (afterRestart.status === 404 && Date.now() < lookDeadline) {
    await new Promise(r => setTimeout(r, 50));
    afterRestart = await request(second, 'GET', `/api/v1/uploads/${uploadId}`);
  }
  console.log(`queued record after restart: first GET ${firstLook}, then ${afterRestart.status}`);
  expect(afterRestart.status, `the queued record after the restart: ${afterRestart.text}`).toBe(200);
  let upload = afterRestart.json.upload;
  while (upload.status !== 'sent' && upload.status !== 'failed' && Date.now() < sentDeadline) {
    await new Promise(r => setTimeout(r, 250));
    upload = (await request(second, 'GET', `/api/v1/uploads/${uploadId}`)).json.upload;
  }
  expect(upload.status).toBe('sent');
  const got = await mock(pnav.base, 'GET', '/__received');
  expect(got.accepted).toBe(1);
  const successes = got.received.filter((r: { status: number }) => r.status === 201);
  expect(successes).toHaveLength(1);
  expect(got.received.filter((r: { duplicate: boolean }) => r.duplicate)).toHaveLength(0);
  // Every attempt carried the same Idempotency-Key.
  expect(new Set(got.received.map((r: { idempotencyKey: string }) => r.idempotencyKey)).size).toBe(1);
  expect(JSON.stringify(got)).not.toContain(TOKEN);
});
