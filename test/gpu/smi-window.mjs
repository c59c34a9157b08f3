// The sidecar's nvidia-smi fallback (its built NvidiaSmiSource and Meter, as the sidecar uses them) on
// windows that check.py loads, then the gaps between the stream's lines. Driven over stdin/stdout:
// prints {"type":"ready-for-window"}, waits for "go" (window opens) and "stop" (window closes).
// Usage: node smi-window.mjs <nvidia-smi> <window seconds, comma separated>
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { NvidiaSmiSource, parseSmiLine } from '../../sidecar/dist/power/gpu/nvidia-smi.js';
import { Meter } from '../../sidecar/dist/power/meter.js';

const [smiPath, sizes] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => (await lines.next()).value;
const say = message => process.stdout.write(`${JSON.stringify(message)}\n`);

const source = new NvidiaSmiSource({ smiPath, gpus: [{ index: 0, uuid: null, name: 'GPU 0' }], rule: 'gpu check' });
await source.start();
while (source.read().powerW === null) await new Promise(r => setTimeout(r, 50));
const meter = new Meter([source]);
for (const windowS of sizes.split(',').map(Number)) {
  await new Promise(r => setTimeout(r, 1000)); // idle between windows, as between cells
  say({ type: 'ready-for-window', windowS });
  await next(); // go
  const start = meter.read();
  await next(); // stop
  const end = meter.read();
  const extrapolatedJ = end.components.gpu.energyJ - start.components.gpu.energyJ;
  await meter.settle([start, end]);
  say({
    windowS,
    smiJ: end.components.gpu.energyJ - start.components.gpu.energyJ,
    extrapolatedJ,
    durationS: (end.monoMs - start.monoMs) / 1000,
  });
}
await source.stop();

// Line gaps of one -lms 100 stream over 3 s: the driver's timestamps and the lines' arrival.
const child = spawn(smiPath, [
  '--query-gpu=index,timestamp,power.draw',
  '--format=csv,noheader,nounits',
  '-lms',
  '100',
  '-i',
  '0',
]);
const stamps = [];
const arrivals = [];
createInterface({ input: child.stdout }).on('line', line => {
  const sample = parseSmiLine(line);
  if (!sample) return;
  arrivals.push(performance.now());
  if (sample.wallMs !== null) stamps.push(sample.wallMs);
});
await new Promise(r => setTimeout(r, 3000));
child.kill('SIGTERM');
const gaps = xs => xs.slice(1).map((x, i) => x - xs[i]);
const median = xs => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
const max = xs => (xs.length ? Math.max(...xs) : null);
say({
  type: 'gaps',
  lines: arrivals.length,
  stampMedianMs: median(gaps(stamps)),
  stampMaxMs: max(gaps(stamps)),
  arrivalMedianMs: median(gaps(arrivals)),
  arrivalMaxMs: max(gaps(arrivals)),
});
process.exit(0);
