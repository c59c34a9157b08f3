#!/usr/bin/env node
/**
 * CSV append cost per closed `%%pnav` cell: times `upsertRows` (the function `writeRunCsv` calls
 * for emissions_<type>.csv) appending one 40-column row to a file that already holds --rows rows,
 * on the file system of --dir (default: the OS temp dir). Prints p50/p99/mean in ms. Never fails
 * on a timing.
 *
 *   npm run build -w sidecar && node test/bench/csv-append.mjs [--rows 1000] [--appends 300]
 *     [--mode append|update] [--dir DIR] [--module path/to/csv-table.js]
 *
 * --module compares another build of csv-table.js (e.g. an older one compiled elsewhere).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const ROWS = Number(option('--rows', 1000));
const APPENDS = Number(option('--appends', 300));
const MODE = option('--mode', 'append');
const DIR = option('--dir', os.tmpdir());
const MODULE = path.resolve(option('--module', path.join(ROOT, 'sidecar', 'dist', 'pnav', 'csv-table.js')));

const { upsertRows, csvLine } = await import(pathToFileURL(MODULE).href);
const { PNAV_COLUMNS } = await import(pathToFileURL(path.join(ROOT, 'sidecar', 'dist', 'pnav', 'columns.js')).href);

// A representative row (csv-file.test.ts case 1), about 390 bytes.
const cells = [
  ...'2025-01-01T00:00:00,training,,0.605,120.0,0.00019145500000000002,1.5954583333333335e-06,0,0,30.0'.split(','),
  ...'0.0,3.0,0.001,0,0.0001,0.0011,0,0,0,0,0,0,small,0'.split(','),
  '(28, 28)',
  ...'Spain,ESP,,,,Linux-6.8.0-x86_64-with-glibc2.39,3.11.7,8'.split(','),
  'Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz',
  ...',,31.2,DDR4,N,1.0'.split(','),
];
if (cells.length !== PNAV_COLUMNS.length) throw new Error(`row has ${cells.length} cells, not ${PNAV_COLUMNS.length}`);

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const dir = mkdtempSync(path.join(DIR, 'pnav-csv-bench-'));
try {
  const file = path.join(dir, 'emissions_training.csv');
  const line = csvLine(cells);
  writeFileSync(file, `${csvLine([...PNAV_COLUMNS])}\n${`${line}\n`.repeat(ROWS)}`);
  const timesMs = [];
  for (let i = 0; i < APPENDS; i++) {
    // update mode on a key it has not written appends too, but through its own path.
    const start = process.hrtime.bigint();
    await upsertRows(file, PNAV_COLUMNS, `run-${i}`, [cells], MODE);
    timesMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  timesMs.sort((a, b) => a - b);
  const mean = timesMs.reduce((sum, t) => sum + t, 0) / timesMs.length;
  console.log(
    `csv ${MODE}: ${APPENDS} rows onto a ${ROWS}-row file (${path.relative(ROOT, MODULE) || MODULE}, ${DIR}): ` +
      `p50 ${quantile(timesMs, 0.5).toFixed(3)} ms, p99 ${quantile(timesMs, 0.99).toFixed(3)} ms, mean ${mean.toFixed(3)} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
