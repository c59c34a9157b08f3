/**
 * /metrics of a real, built sidecar, scraped while runs open and close, and parsed with the
 * reference Prometheus text parser (the official Python client's
 * `prometheus_client.parser.text_string_to_metric_families`, from the repository's venv).
 * Counters must rise and never fall; every series carries host, user and the sidecar's job label;
 * a run's own `job` label lands on the run series; `--metrics-public` opens /metrics only.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'sidecar', 'dist', 'cli.js');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');

const PARSE_SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = [
    {'name': f.name, 'type': f.type,
     'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]
json.dump(families, sys.stdout)
`;

interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface PromFamily {
  name: string;
  type: string;
  samples: PromSample[];
}

interface Sidecar {
  url: string;
  token: string;
  child: ChildProcess;
}

let workDir: string;
const started: ChildProcess[] = [];

async function startSidecar(name: string, args: string[]): Promise<Sidecar> {
  const runtime = join(workDir, `${name}-runtime`);
  const env: NodeJS.ProcessEnv = { ...process.env, PNAV_DATA_DIR: join(workDir, `${name}-data`) };
  delete env.PNAV_SIDECAR_URL;
  delete env.PNAV_SIDECAR_TOKEN;
  const child = spawn(process.execPath, [CLI, 'sidecar', '--runtime-dir', runtime, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  started.push(child);
  const file = join(runtime, 'pnav-sidecar.json');
  for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise(r => setTimeout(r, 100));
  const info = JSON.parse(readFileSync(file, 'utf8')) as { url: string; token: string };
  return { ...info, child };
}

/** The reference parser: raises (non-zero exit) on anything that is not valid exposition text. */
function parsePrometheus(text: string): PromFamily[] {
  const result = spawnSync(PYTHON, ['-c', PARSE_SCRIPT], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`prometheus_client rejected the exposition:\n${result.stderr}`);
  return JSON.parse(result.stdout) as PromFamily[];
}

async function scrape(sidecar: Sidecar): Promise<PromFamily[]> {
  const response = await fetch(`${sidecar.url}/metrics`, { headers: { Authorization: `Bearer ${sidecar.token}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}

async function api(sidecar: Sidecar, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sidecar.url}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${sidecar.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return response.json() as Promise<{ run: { id: string } }>;
}

const seriesKey = (s: PromSample) =>
  `${s.name}{${Object.entries(s.labels)
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;

/** Samples of counters, and the _count/_sum of histograms: all must be monotonic. */
function monotonicSamples(families: PromFamily[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const family of families) {
    for (const s of family.samples) {
      const monotonic =
        family.type === 'counter' || (family.type === 'histogram' && /_(count|sum|bucket)$/.test(s.name));
      if (monotonic) out.set(seriesKey(s), s.value);
    }
  }
  return out;
}

function find(families: PromFamily[], name: string, labels: Record<string, string> = {}): PromSample[] {
  return families
    .flatMap(f => f.samples)
    .filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

const pause = (ms: number) => new Promise(r => setTimeout(r, ms));

beforeAll(() => {
  for (const needed of [CLI, PYTHON]) {
    if (!existsSync(needed))
      throw new Error(`${needed} is missing: run \`npm run build\` (node test/tools/bootstrap.mjs)`);
  }
  const probe = spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`prometheus_client is not installed in ${PYTHON}: ${probe.stderr}`);
  workDir = mkdtempSync(join(tmpdir(), 'pnav-metrics-test-'));
});

afterAll(async () => {
  for (const child of started) {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise(r => child.once('exit', r));
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('/metrics scraped while runs open and close', () => {
  let sidecar: Sidecar;
  const scrapes: PromFamily[][] = [];

  beforeAll(async () => {
    sidecar = await startSidecar('main', ['--label', 'job=train-llm', '--sample-interval', '100', '--country', 'ESP']);
    scrapes.push(await scrape(sidecar));
    await pause(300);
    const first = await api(sidecar, 'POST', '/runs', { kind: 'manual', label: 'a', labels: { job: 'finetune' } });
    await pause(300);
    scrapes.push(await scrape(sidecar)); // 1: one open run
    await api(sidecar, 'POST', `/runs/${first.run.id}/close`, { status: 'ok' });
    scrapes.push(await scrape(sidecar)); // 2: closed
    const second = await api(sidecar, 'POST', '/runs', { kind: 'cell', label: 'b' });
    await pause(300);
    await api(sidecar, 'POST', `/runs/${second.run.id}/close`, { status: 'error', error: 'boom' });
    await pause(300);
    scrapes.push(await scrape(sidecar)); // 3
  });

  it('parses with the reference parser and has the documented families', () => {
    const names = new Set(scrapes[0]!.map(f => `${f.name}:${f.type}`));
    for (const expected of [
      'pnav_power_watts:gauge',
      'pnav_energy_joules:counter',
      'pnav_open_runs:gauge',
      'pnav_run_energy_joules:histogram',
      'pnav_runs_closed:counter',
      'pnav_run_emissions_grams:counter',
      'pnav_run_facility_energy_joules:counter',
      'pnav_grid_intensity_grams_per_kwh:gauge',
      'pnav_sidecar_start_time_seconds:gauge',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('never lets a counter fall across scrapes', () => {
    for (let i = 1; i < scrapes.length; i++) {
      const before = monotonicSamples(scrapes[i - 1]!);
      const after = monotonicSamples(scrapes[i]!);
      for (const [key, value] of before) {
        expect(after.has(key), `${key} disappeared in scrape ${i}`).toBe(true);
        expect(after.get(key)!, `${key} fell in scrape ${i}`).toBeGreaterThanOrEqual(value);
      }
    }
  });

  it('makes the machine energy counters rise while the sidecar samples', () => {
    const total = (families: PromFamily[]) =>
      find(families, 'pnav_energy_joules_total').reduce((sum, s) => sum + s.value, 0);
    expect(total(scrapes[1]!)).toBeGreaterThan(total(scrapes[0]!));
    expect(total(scrapes[3]!)).toBeGreaterThan(total(scrapes[2]!));
    for (const s of find(scrapes[3]!, 'pnav_energy_joules_total')) {
      expect(['cpu', 'gpu', 'ram']).toContain(s.labels.component);
      expect(['true', 'false']).toContain(s.labels.measured);
    }
  });

  it('counts open runs and closed runs, each closed run under its own job', () => {
    expect(find(scrapes[1]!, 'pnav_open_runs')[0]!.value).toBe(1);
    expect(find(scrapes[2]!, 'pnav_open_runs')[0]!.value).toBe(0);
    const closed = (families: PromFamily[], labels: Record<string, string>) =>
      find(families, 'pnav_runs_closed_total', labels).reduce((sum, s) => sum + s.value, 0);
    expect(closed(scrapes[1]!, {})).toBe(0);
    expect(closed(scrapes[2]!, { job: 'finetune', kind: 'manual', status: 'ok' })).toBe(1);
    expect(closed(scrapes[3]!, { job: 'train-llm', kind: 'cell', status: 'error' })).toBe(1);
    const energyOfJob = find(scrapes[3]!, 'pnav_run_energy_joules_sum', { job: 'finetune' });
    expect(energyOfJob).toHaveLength(1);
    expect(energyOfJob[0]!.value).toBeGreaterThan(0);
  });

  it('labels every series with host, user and the sidecar job', () => {
    for (const s of scrapes[3]!.flatMap(f => f.samples)) {
      expect(s.labels.host, s.name).toBeTruthy();
      expect(s.labels.user, s.name).toBeTruthy();
      expect(s.labels.job, s.name).toMatch(/^(train-llm|finetune)$/);
    }
  });

  it('exports the grid intensity of the configured country', () => {
    const [intensity] = find(scrapes[0]!, 'pnav_grid_intensity_grams_per_kwh', { country: 'ESP', source: 'config' });
    expect(intensity!.value).toBeGreaterThan(0);
  });

  it('has every metric that the Prometheus docs, rules and dashboard name', () => {
    const docs = join(ROOT, 'sidecar', 'docs', 'prometheus');
    const exposed = new Set(scrapes[3]!.flatMap(f => [f.name, ...f.samples.map(s => s.name)]));
    const named = new Set<string>();
    for (const file of readdirSync(docs)) {
      const text = readFileSync(join(docs, file), 'utf8');
      // Metric names, not recording-rule names (a:b:c) nor the package name pnav_lab.
      for (const m of text.matchAll(
        /(?<![:\w])pnav_[a-z_]+_(total|watts|joules|runs|kwh|seconds|sum|count|bucket)(?![:\w])/g,
      )) {
        named.add(m[0]);
      }
    }
    expect(named.size).toBeGreaterThan(5);
    for (const name of named) expect(exposed, `${name} is named in the docs`).toContain(name);
  });

  it('requires the bearer token for /metrics by default', async () => {
    expect((await fetch(`${sidecar.url}/metrics`)).status).toBe(401);
  });
});

describe('--metrics-public', () => {
  it('serves /metrics without the token and nothing else', async () => {
    const sidecar = await startSidecar('public', ['--metrics-public']);
    const metrics = await fetch(`${sidecar.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(parsePrometheus(await metrics.text()).map(f => f.name)).toContain('pnav_energy_joules');
    expect((await fetch(`${sidecar.url}/api/v1/status`)).status).toBe(401);
    expect((await fetch(`${sidecar.url}/api/v1/runs`)).status).toBe(401);
  });
});
