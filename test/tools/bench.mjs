#!/usr/bin/env node
/**
 * `npm run bench`: installs and builds what is missing, runs every benchmark present under
 * test/bench/ one after the other (they measure, so never in parallel), prints their figures and
 * writes test/bench/results/latest.json (date, machine, command, each bench's figures).
 *
 *   npm run bench                          every bench present
 *   npm run bench -- --only peers          benches whose name contains "peers"
 *   npm run bench -- --quick               compare-peers with small numbers (smoke run; not quotable)
 *   npm run bench -- --watch-s 120 ...     every option but --only goes to compare-peers.py
 *
 * Convention for a bench: test/bench/<name>.(mjs|js|py), prints its own table, and writes its
 * figures as JSON to test/bench/results/<name>.json (picked up here when written by this run).
 * Benchmarks print figures; they never fail on a timing (a busy machine would make such a test flaky).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { bootstrap, ROOT, VENV_BIN, VENV_PYTHON } from './bootstrap.mjs';

const BENCH = join(ROOT, 'test', 'bench');
const RESULTS = join(BENCH, 'results');
// Short, quiet benches first; the peer comparison (minutes, installs peers) last.
const BENCHES = [
  'sidecar-bench',
  'open-runs',
  'kernel-overhead',
  'proof-connect',
  'multi-kernel-load',
  'lab-render',
  'compare-peers',
];

const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const passThrough = argv.filter((a, i) => a !== '--only' && argv[i - 1] !== '--only');

function findBench(name) {
  for (const ext of ['mjs', 'js', 'py']) {
    const file = join(BENCH, `${name}.${ext}`);
    if (existsSync(file)) return { file, ext };
  }
  return null;
}

function commandFor(name, { file, ext }) {
  // Other benches own their options; only the peer comparison takes ours.
  const extra = name === 'compare-peers' ? passThrough : [];
  return ext === 'py' ? [VENV_PYTHON, [file, ...extra]] : [process.execPath, [file, ...extra]];
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    ramGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: os.release(),
    node: process.versions.node,
    hostname: os.hostname(),
  };
}

function readFresh(file, sinceMs) {
  if (!existsSync(file) || statSync(file).mtimeMs < sinceMs) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { unreadable: err.message };
  }
}

/** Runs a bench with its output shown live and kept. */
function runTee(cmd, args, env) {
  return new Promise(resolve => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['inherit', 'pipe', 'pipe'] });
    let output = '';
    const tee = stream => chunk => {
      output += chunk;
      stream.write(chunk);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    child.on('close', (code, signal) => resolve({ code: code ?? signal, output }));
  });
}

async function main() {
  try {
    bootstrap();
  } catch (err) {
    // A half-finished install must not hide the figures of what is built: say so, and go on.
    process.stdout.write(`\n!!! bootstrap failed: ${err.message}\n!!! benchmarks run against what is already built\n`);
  }
  mkdirSync(RESULTS, { recursive: true });
  const env = {
    ...process.env,
    PATH: `${VENV_BIN}:${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
    PNAV_REPO_ROOT: ROOT,
  };
  const report = {
    date: new Date().toISOString(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    machine: machine(),
    benches: [],
  };
  for (const name of BENCHES) {
    if (only && !name.includes(only)) continue;
    const found = findBench(name);
    if (!found) {
      process.stdout.write(`\n=== ${name}: not present under test/bench/, skipped\n`);
      report.benches.push({ name, status: 'absent' });
      continue;
    }
    const [cmd, args] = commandFor(name, found);
    process.stdout.write(`\n=== ${name}: ${[cmd, ...args].join(' ').replaceAll(ROOT, '.')}\n`);
    const started = Date.now();
    const r = await runTee(cmd, args, env);
    const durationS = (Date.now() - started) / 1000;
    const figures = readFresh(join(RESULTS, `${name}.json`), started);
    report.benches.push({
      name,
      command: [cmd, ...args].join(' ').replaceAll(ROOT, '.'),
      status: r.code === 0 ? 'ok' : 'failed',
      exitCode: r.code,
      durationS,
      figures,
      // What it printed (its table), kept for benches that write no JSON.
      outputTail: r.output.slice(-6000),
    });
  }
  const tmp = join(RESULTS, 'latest.json.tmp');
  writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(tmp, join(RESULTS, 'latest.json'));

  process.stdout.write('\n=== bench summary\n');
  for (const b of report.benches) {
    const detail =
      b.status === 'absent' ? '' : ` in ${b.durationS.toFixed(0)} s${b.figures ? '' : ' (wrote no results JSON)'}`;
    process.stdout.write(`${b.name.padEnd(20)} ${b.status}${detail}\n`);
  }
  process.stdout.write(`written ${join(RESULTS, 'latest.json').replace(`${ROOT}/`, '')}\n`);
  const failed = report.benches.filter(b => b.status === 'failed').length;
  process.exit(failed === 0 ? 0 : 1);
}

await main();
