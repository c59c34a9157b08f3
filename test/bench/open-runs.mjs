#!/usr/bin/env node
/**
 * Open runs at scale: a real `pnav sidecar` holding 10,000 and then 50,000 open runs (a client that
 * leaks runs it never closes). Prints figures; asserts nothing.
 *
 *   node test/bench/open-runs.mjs                   (needs `npm run build -w sidecar` first)
 *   BENCH_WINDOW_S=30 BENCH_OPEN_RUNS=10000,50000 node test/bench/open-runs.mjs
 *
 * For each count N, against a fresh sidecar (estimated CPU source, 1 Hz sampling, 1 s checkpoints,
 * --max-open-runs raised to N so the cap is not what is measured):
 * 1. fill: N opens over loopback HTTP (4 keep-alive connections), latency of each request;
 * 2. steady state: 500 more opens while N are open, one at a time, p50/p99 (what a cell pays);
 * 3. idle cost: CPU of the sidecar (utime+stime from /proc/<pid>/stat) and bytes it wrote
 *    (/proc/<pid>/io wchar) over BENCH_WINDOW_S seconds with N runs open, every checkpoint included;
 * 4. RSS at the end.
 * Time-bounded: BENCH_MAX_S (default 600 s) stops a fill that is too slow and says so.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'sidecar', 'dist', 'cli.js');
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 20);
const MAX_S = Number(process.env.BENCH_MAX_S ?? 600);
const COUNTS = (process.env.BENCH_OPEN_RUNS ?? '10000,50000').split(',').map(Number);
const CLK_TCK = 100; // USER_HZ on Linux (getconf CLK_TCK)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-bench-open-runs-'));
const started = performance.now();

if (!fs.existsSync(CLI)) {
  console.error(`missing ${CLI}: run \`npm run build -w sidecar\` first`);
  process.exit(1);
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function procTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

function procWrittenBytes(pid) {
  const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^wchar: (\d+)/m.exec(io)[1]);
}

function procRssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)[1]) / 1024;
}

async function startSidecar(n) {
  const runtimeDir = path.join(tmp, `rt-${n}`);
  const args = [CLI, 'sidecar', '--runtime-dir', runtimeDir, '--data-dir', path.join(tmp, `data-${n}`)];
  args.push('--cpu-tdp', '85', '--sample-interval', '1000', '--checkpoint-interval', '1000');
  args.push('--max-open-runs', String(n + 1000), '--max-open-runs-per-kernel', String(n + 1000));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const file = path.join(runtimeDir, 'pnav-sidecar.json');
  for (let i = 0; i < 600 && !fs.existsSync(file); i++) await sleep(50);
  const info = JSON.parse(fs.readFileSync(file, 'utf8'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const call = (method, url, body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? '' : JSON.stringify(body);
      const t0 = performance.now();
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
          const chunks = [];
          res.on('data', c => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - t0;
            if (res.statusCode >= 300)
              reject(new Error(`${method} ${url}: ${res.statusCode} ${Buffer.concat(chunks)}`));
            else resolve({ ms, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const stop = () =>
    new Promise(resolve => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { child, call, stop };
}

const openBody = i => ({ kind: 'manual', kernelId: `kernel-${i % 100}`, label: `leaked run ${i}` });

async function measure(n) {
  const sc = await startSidecar(n);
  const fill = [];
  let next = 0;
  let timedOut = false;
  const worker = async () => {
    while (next < n) {
      if ((performance.now() - started) / 1000 > MAX_S) {
        timedOut = true;
        return;
      }
      const i = next++;
      fill.push((await sc.call('POST', '/api/v1/runs', openBody(i))).ms);
    }
  };
  const fillT0 = performance.now();
  await Promise.all([worker(), worker(), worker(), worker()]);
  const fillS = (performance.now() - fillT0) / 1000;
  if (timedOut) {
    await sc.stop();
    return { openRuns: fill.length, timedOut: true, note: `fill stopped after ${MAX_S} s (BENCH_MAX_S)` };
  }
  await sleep(2000); // let the first checkpoints after the fill pass
  const steady = [];
  for (let i = 0; i < 500; i++) steady.push((await sc.call('POST', '/api/v1/runs', openBody(n + i))).ms);
  const ticks0 = procTicks(sc.child.pid);
  const written0 = procWrittenBytes(sc.child.pid);
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const windowS = (performance.now() - t0) / 1000;
  const cpuPct = ((procTicks(sc.child.pid) - ticks0) / CLK_TCK / windowS) * 100;
  const writtenKBps = (procWrittenBytes(sc.child.pid) - written0) / 1024 / windowS;
  const rssMb = procRssMb(sc.child.pid);
  await sc.stop();
  fill.sort((a, b) => a - b);
  steady.sort((a, b) => a - b);
  return {
    openRuns: n + 500,
    fillS,
    fillP50Ms: pct(fill, 50),
    fillP99Ms: pct(fill, 99),
    openP50Ms: pct(steady, 50),
    openP99Ms: pct(steady, 99),
    idleCpuPctOfCore: cpuPct,
    writtenKBps,
    rssMb,
    windowS,
  };
}

const results = {};
for (const n of COUNTS) {
  process.stderr.write(`open-runs: filling ${n} open runs...\n`);
  results[n] = await measure(n);
}

const fmt = (v, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
console.log('\nOpen runs held by one sidecar (1 s checkpoints, estimated CPU source)');
console.log(
  '| open runs | fill (s) | open p50 / p99 with them open (ms) | sidecar CPU idle (% of a core) | written (kB/s) | RSS (MB) |',
);
console.log('|---|---|---|---|---|---|');
for (const [n, r] of Object.entries(results)) {
  if (r.timedOut) console.log(`| ${n} | ${r.note} | | | | |`);
  else
    console.log(
      `| ${n} (+500) | ${fmt(r.fillS)} | ${fmt(r.openP50Ms, 2)} / ${fmt(r.openP99Ms, 2)} | ${fmt(r.idleCpuPctOfCore, 2)} | ${fmt(r.writtenKBps)} | ${fmt(r.rssMb, 0)} |`,
    );
}
console.log(`Targets at 10,000 open runs: CPU <= 5 % of a core, open p99 <= 50 ms. Window ${WINDOW_S} s.`);
const outDir = path.join(ROOT, 'test', 'bench', 'results');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(
  path.join(outDir, 'open-runs.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine: `${os.cpus().length} CPU ${os.cpus()[0]?.model}`, results }, null, 2)}\n`,
);
fs.rmSync(tmp, { recursive: true, force: true });
