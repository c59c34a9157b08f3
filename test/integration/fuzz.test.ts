/**
 * Fuzzes every route of a real sidecar's OpenAPI description (plus the contract's routes the
 * description lacks) for a bounded time with generated hostile bodies, queries, path parameters
 * and headers (test/fuzz/openapi-fuzz.ts). Checks: never a 5xx, every error in the API envelope
 * with a known code, oversized bodies 413, the process alive, and the runs stored before the
 * fuzzing unchanged, also after a restart (replay of the store).
 */
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ERROR_CODES as SIDECAR_ERROR_CODES } from '../../sidecar/dist/api/schemas.js';
import {
  listRuns,
  openRun,
  request,
  type SidecarProcess,
  startSidecar,
  tmpDir,
} from '../faults/support/sidecar-process.js';
import {
  caseArb,
  type FuzzCase,
  type Operation,
  OVERSIZED_BODY,
  OVERSIZED_MARKER,
  operations,
} from '../fuzz/openapi-fuzz.js';

const FUZZ_TIME_MS = Number(process.env.PNAV_FUZZ_MS ?? 40_000);
// The API's own list (built sidecar): a new error code cannot drift from what the fuzzer accepts.
const ERROR_CODES: readonly string[] = SIDECAR_ERROR_CODES;

/** Routes every client relies on, which the OpenAPI description must list; fuzzed even when it does not. */
const CONTRACT_ROUTES: Operation[] = [
  ['POST', '/api/v1/exports'],
  ['POST', '/api/v1/records/preview'],
  ['POST', '/api/v1/uploads'],
  ['GET', '/api/v1/uploads'],
  ['GET', '/api/v1/uploads/{id}'],
  ['GET', '/metrics'],
  ['GET', '/api/v1/openapi.json'],
].map(([method, path]) => ({
  method: method!,
  path: path!,
  pathParams: path!.includes('{id}') ? ['id'] : [],
  query: [],
  body: null,
}));

let sc: SidecarProcess;
/**
 * Where the fuzzed sidecar may write: its working directory, HOME and XDG_CONFIG_HOME, and every
 * `dir` / `cwd` a generated body names (CSV output, project configuration) is moved in here, so
 * schema-valid bodies never write CSV or .pnav.toml files into the repository or the real home.
 */
const sandbox = tmpDir('fuzz-sandbox');
const sandboxEnv = { HOME: sandbox, XDG_CONFIG_HOME: path.join(sandbox, 'config') };
const sentinels = new Map<string, unknown>();
let liveRun = '';

beforeAll(async () => {
  sc = await startSidecar({ env: sandboxEnv, cwd: sandbox });
  // Runs the fuzzer never names: they must come out byte for byte the same.
  for (let i = 0; i < 3; i++) {
    const run = await openRun(sc, { typeProcess: i % 2 ? 'inference' : 'training', label: `sentinel ${i}` });
    await request(sc, 'POST', `/api/v1/runs/${run.id}/epochs`, { body: {} });
    await request(sc, 'POST', `/api/v1/runs/${run.id}/batches`, { body: { n: 3 } });
    const closed = await request(sc, 'POST', `/api/v1/runs/${run.id}/close`, { body: { status: 'ok' } });
    expect(closed.status).toBe(200);
    sentinels.set(run.id, closed.json.run);
  }
  liveRun = (await openRun(sc, { label: 'fuzz target' })).id;
});

afterAll(async () => {
  await sc?.stop();
});

/** Moves every `dir` / `cwd` string of a JSON body inside the sandbox (no '..' escapes); other bodies pass as sent. */
function confine(body: string | undefined): string | undefined {
  if (body === undefined || !/"(dir|cwd)"/.test(body)) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body; // not JSON: nothing the sidecar could write with
  }
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      // fromEntries keeps a '__proto__' key as an own property, as JSON.parse made it.
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [
          k,
          (k === 'dir' || k === 'cwd') && typeof x === 'string' ? path.join(sandbox, x.replaceAll('..', '_')) : walk(x),
        ]),
      );
    }
    return v;
  };
  return JSON.stringify(walk(parsed));
}

it(`fuzzes every route for ${FUZZ_TIME_MS / 1000} s: no 5xx, clean errors, nothing stored damaged`, async () => {
  const docReply = await request(sc, 'GET', '/api/v1/openapi.json');
  expect(docReply.status).toBe(200);
  const doc = docReply.json;
  const documented = operations(doc);
  const missing = CONTRACT_ROUTES.filter(c => !documented.some(o => o.method === c.method && o.path === c.path));
  if (missing.length)
    console.warn(
      `routes of the contract missing from openapi.json: ${missing.map(m => `${m.method} ${m.path}`).join(', ')}`,
    );
  const ops = operations(doc, CONTRACT_ROUTES);

  // A new run now and then, so path ids hit open runs as well as closed ones.
  let calls = 0;
  const pickRun = () => liveRun;
  const stats = new Map<string, Map<number, number>>();
  const failures: string[] = [];
  // One arbitrary per route, built once (building them per case costs more than the request).
  const arb = fc.oneof(...ops.map(op => caseArb(op, doc, pickRun)));

  const check = async (c: FuzzCase) => {
    calls++;
    if (calls % 500 === 0) liveRun = (await openRun(sc, { label: `fuzz target ${calls}` })).id;
    const rawBody = c.body === OVERSIZED_MARKER ? OVERSIZED_BODY : confine(c.body);
    const key = `${c.op.method} ${c.op.path}`;
    let r: Awaited<ReturnType<typeof request>>;
    try {
      r = await request(sc, c.op.method, c.url, { rawBody, headers: c.headers });
    } catch (err) {
      // Refusing a 2 MB body may reset the connection before its 413/415 reaches the client (TCP
      // discards unread data on a reset): refused all the same, nothing read, nothing stored.
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (c.kind !== 'oversized' || !['ECONNRESET', 'EPIPE'].includes(code)) throw err;
      const byStatus = stats.get(key) ?? new Map<number, number>();
      byStatus.set(0, (byStatus.get(0) ?? 0) + 1);
      stats.set(key, byStatus);
      return;
    }
    const byStatus = stats.get(key) ?? new Map<number, number>();
    byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    stats.set(key, byStatus);
    const where = `${c.op.method} ${c.url.slice(0, 200)} [${c.kind}] -> ${r.status} ${r.text.slice(0, 300)}`;
    if (r.status >= 500) throw new Error(`5xx: ${where}`);
    if (r.status >= 400) {
      if (!r.json?.error || !ERROR_CODES.includes(r.json.error.code) || typeof r.json.error.message !== 'string') {
        throw new Error(`error outside the envelope: ${where}`);
      }
    }
    // 415 first when the content type is refused before the body is read.
    if (c.kind === 'oversized' && ![413, 415].includes(r.status)) {
      throw new Error(`oversized body not refused with 413: ${where}`);
    }
  };

  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(arb, c => check(c)),
      { numRuns: 1_000_000, interruptAfterTimeLimit: FUZZ_TIME_MS, markInterruptAsFailure: false, endOnFailure: true },
    );
  } catch (err) {
    // The failing request's own error first: fast-check's message (counterexample, hints) can be long.
    const cause = (err as Error).cause;
    failures.push(`${cause ? `${String(cause)}\n` : ''}${(err as Error).message}`.slice(0, 3000));
  }
  const seconds = (Date.now() - started) / 1000;
  const table = [...stats].map(
    ([route, byStatus]) =>
      `${route.padEnd(44)} ${[...byStatus]
        .sort()
        .map(([s, n]) => `${s}:${n}`)
        .join(' ')}`,
  );
  console.log(`fuzz: ${calls} requests in ${seconds.toFixed(1)} s over ${ops.length} routes\n${table.join('\n')}`);
  expect(failures).toEqual([]);
  expect(calls).toBeGreaterThan(1000);

  // Still alive, and the sentinels untouched.
  expect((await request(sc, 'GET', '/healthz')).status).toBe(200);
  for (const [id, before] of sentinels)
    expect((await request(sc, 'GET', `/api/v1/runs/${id}`)).json.run).toEqual(before);

  // The store replays: stop (exit 0), start on the same data dir, same sentinels.
  expect(await sc.stop()).toBe(0);
  sc = await startSidecar({ dataDir: sc.dataDir, env: sandboxEnv, cwd: sandbox });
  const after = await listRuns(sc);
  for (const [id, before] of sentinels) expect(after.find(r => r.id === id)).toEqual(before);
});

it('garbage frames on the WebSocket stream are ignored: no crash, the stream keeps serving', async () => {
  const frames = fc.sample(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.jsonValue().map(v => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 300 }).map(a => Buffer.from(a)),
      fc.constant('x'.repeat(200_000)),
    ),
    500,
  );
  const ws = new WebSocket(`ws://127.0.0.1:${sc.port}/api/v1/stream`, {
    headers: { authorization: `Bearer ${sc.token}` },
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  for (const f of frames) ws.send(f);
  await new Promise(r => setTimeout(r, 300));
  ws.terminate();
  expect((await request(sc, 'GET', '/healthz')).status).toBe(200);
  // A fresh client still gets its hello.
  const hello = await new Promise<string>((resolve, reject) => {
    const again = new WebSocket(`ws://127.0.0.1:${sc.port}/api/v1/stream`, {
      headers: { authorization: `Bearer ${sc.token}` },
    });
    again.once('message', d => {
      resolve(String(d));
      again.close();
    });
    again.once('error', reject);
  });
  expect(JSON.parse(hello).type).toBe('hello');
});
