#!/usr/bin/env node
/**
 * Sidecar benchmark: request latency, sampler cost, memory. Prints figures; asserts nothing.
 *
 *   node test/bench/sidecar-bench.mjs            (needs `npm run build -w sidecar` first)
 *   BENCH_WINDOW_S=30 node test/bench/sidecar-bench.mjs
 *
 * 1. open→close round trip over loopback HTTP, 1,000 runs, p50/p99 (one client, keep-alive).
 * 2. sidecar CPU as % of one core at 1 Hz and 10 Hz sampling, with 0 and 5 stream clients and one
 *    open run (its kernel a sleeping python3 process): utime+stime of the child from /proc/<pid>/stat
 *    over BENCH_WINDOW_S seconds.
 *    The RSS of that real `pnav sidecar` process is printed at the end of each window.
 * 3. RSS over a simulated day of sampling: 86,400 ticks driven as fast as possible through the real
 *    sampler (buffer, metrics, progress, checkpoints) of an in-process sidecar, RSS sampled as it goes.
 *    The child starts like `pnav sidecar` does (cli-preamble.ts): heap settings first, then the sidecar.
 * Power sources are whatever this machine has (see the printed source list).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'sidecar', 'dist', 'cli.js');
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 20);
const CLK_TCK = 100; // USER_HZ on Linux (getconf CLK_TCK)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-bench-'));

if (!fs.existsSync(CLI)) {
  console.error(`missing ${CLI}: run \`npm run build -w sidecar\` first`);
  process.exit(1);
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function startSidecar(name, args = []) {
  const runtimeDir = path.join(tmp, `rt-${name}`);
  const child = spawn(
    process.execPath,
    [CLI, 'sidecar', '--runtime-dir', runtimeDir, '--data-dir', path.join(tmp, `data-${name}`), ...args],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  const file = path.join(runtimeDir, 'pnav-sidecar.json');
  for (let i = 0; i < 600 && !fs.existsSync(file); i++) await sleep(50);
  const info = JSON.parse(fs.readFileSync(file, 'utf8'));
  // node:http with a keep-alive agent: the thinnest client, so the figure is mostly the server's.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method, url, body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? '' : JSON.stringify(body);
      const req = http.request(
        `${info.url}${url}`,
        {
          method,
          agent,
          headers: {
            Authorization: `Bearer ${info.token}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(data),
          },
        },
        res => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', d => (text += d));
          res.on('end', () =>
            res.statusCode < 300
              ? resolve(JSON.parse(text))
              : reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const stop = async () => {
    agent.destroy();
    child.kill('SIGTERM');
    await new Promise(r => child.once('exit', r));
  };
  return { child, info, call, stop };
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function rssMb(pid) {
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return (kb / 1024).toFixed(1);
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function roundTrip() {
  const s = await startSidecar('rt');
  const status = await s.call('GET', '/api/v1/status');
  console.log(
    `sources: ${status.sources
      .filter(x => x.available)
      .map(x => `${x.component}=${x.method}`)
      .join(' ')}`,
  );
  console.log(`machine: ${status.hardware.cpuModel}, ${status.hardware.cpuCount} CPUs; node ${process.version}`);
  for (let i = 0; i < 50; i++) {
    const { run } = await s.call('POST', '/api/v1/runs', { kind: 'cell' });
    await s.call('POST', `/api/v1/runs/${run.id}/close`, {});
  }
  const times = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    const { run } = await s.call('POST', '/api/v1/runs', { kind: 'cell', notebookPath: 'bench.ipynb' });
    await s.call('POST', `/api/v1/runs/${run.id}/close`, { status: 'ok' });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(
    `open→close round trip (1,000 runs, loopback keep-alive, journal written before each reply): p50 ${pct(times, 50).toFixed(3)} ms, p99 ${pct(times, 99).toFixed(3)} ms, max ${times.at(-1).toFixed(3)} ms`,
  );
  await s.stop();
}

async function cpuAt(hz, clients) {
  const s = await startSidecar(`cpu-${hz}-${clients}`, ['--sample-interval', String(1000 / hz)]);
  const sockets = [];
  let frames = 0;
  for (let i = 0; i < clients; i++) {
    const ws = new WebSocket(`${s.info.url.replace('http', 'ws')}/api/v1/stream`, {
      headers: { Authorization: `Bearer ${s.info.token}` },
    });
    ws.on('message', () => frames++);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    sockets.push(ws);
  }
  // The run's kernel is a sleeping Python process, as a notebook's kernel would be: its memory
  // (/proc/<pid>/smaps_rollup) is read at each checkpoint, and this Node process's would cost ~10x more.
  const kernel = spawn('python3', ['-c', 'import time; time.sleep(3600)'], { stdio: 'ignore' });
  const { run } = await s.call('POST', '/api/v1/runs', { kind: 'cell', pid: kernel.pid });
  await sleep(2000); // past start-up work
  const t0 = performance.now();
  const c0 = cpuTicks(s.child.pid);
  frames = 0;
  await sleep(WINDOW_S * 1000);
  const c1 = cpuTicks(s.child.pid);
  const wallS = (performance.now() - t0) / 1000;
  const percent = ((c1 - c0) / CLK_TCK / wallS) * 100;
  console.log(
    `CPU at ${String(hz).padStart(2)} Hz, ${clients} stream clients: ${percent.toFixed(2)} % of one core (${c1 - c0} ticks in ${wallS.toFixed(1)} s, ${frames} frames received); RSS ${rssMb(s.child.pid)} MB`,
  );
  await s.call('POST', `/api/v1/runs/${run.id}/close`, {});
  kernel.kill();
  for (const ws of sockets) ws.close();
  await s.stop();
}

/** Runs in a child with --expose-gc: an in-process sidecar whose sampler is ticked 86,400 times. */
async function simulatedDay() {
  const script = `
    const { tuneHeapForSidecar } = await import(${JSON.stringify(path.join(ROOT, 'sidecar', 'dist', 'runtime', 'heap.js'))});
    tuneHeapForSidecar(); // what \`pnav sidecar\` does before loading anything else (cli-preamble.ts)
    const { parseConfig, startSidecar } = await import(${JSON.stringify(path.join(ROOT, 'sidecar', 'dist', 'index.js'))});
    const config = parseConfig({ dataDir: ${JSON.stringify(path.join(tmp, 'data-day'))}, runtimeDir: ${JSON.stringify(path.join(tmp, 'rt-day'))}, sampleInterval: 60000 }, process.env);
    const sidecar = await startSidecar(config, { token: 'x'.repeat(64), log: () => {} });
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(sidecar.ledger.openRun({ kind: 'cell', typeProcess: 'training', pid: process.pid }));
    const mb = () => { global.gc(); return process.memoryUsage().rss / 1024 / 1024; };
    const points = [[0, mb()]];
    const t0 = performance.now();
    for (let i = 1; i <= 86400; i++) {
      sidecar.sampler.tick();
      if (i % 21600 === 0) { await new Promise(r => setImmediate(r)); points.push([i, mb()]); }
    }
    const s = (performance.now() - t0) / 1000;
    for (const r of runs) await sidecar.ledger.closeRun(r.id, { status: 'ok' });
    await sidecar.close();
    console.log(JSON.stringify({ points, s }));
  `;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', d => (out += d));
  await new Promise(r => child.once('exit', r));
  const { points, s } = JSON.parse(out.trim().split('\n').at(-1));
  console.log(
    `RSS over a simulated day (86,400 ticks at 1 Hz-equivalent, 3 open runs, ${s.toFixed(1)} s wall): ${points
      .map(([i, m]) => `${(i / 3600).toFixed(0)} h ${m.toFixed(1)} MB`)
      .join(', ')}`,
  );
}

try {
  await roundTrip();
  for (const hz of [1, 10]) for (const clients of [0, 5]) await cpuAt(hz, clients);
  await simulatedDay();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
