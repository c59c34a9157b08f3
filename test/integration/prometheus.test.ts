/**
 * The Prometheus set-up that sidecar/docs/prometheus/ documents, checked with Prometheus itself:
 * `promtool check config` / `check rules` on every documented file, then a real Prometheus 2.x on
 * loopback scraping a real sidecar with its token (as the docs say), loading the documented recording
 * rules, and answering every documented query (README's PromQL, the rules, the Grafana dashboard's
 * panels) through its HTTP API with the labels the query groups by. Counters must rise while a run is open.
 * Needs Debian's `prometheus` package (promtool included), which .ci/run installs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRapl, freePort, ROOT, SIDECAR_CLI } from '../e2e/lab-harness.mjs';

const DOCS = join(ROOT, 'sidecar', 'docs', 'prometheus');
const JOB = 'llm-pretrain-42'; // the job id the README's queries use
const SCRAPE_JOB = 'pnav-training';

interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

function tool(name: string): string | null {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

function promtool(args: string[], cwd = DOCS) {
  const r = spawnSync(tool('promtool') ?? 'promtool', args, { cwd, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The README's PromQL block: one query per paragraph, `#` lines are its description. */
function readmeQueries(): { title: string; query: string }[] {
  const readme = readFileSync(join(DOCS, 'README.md'), 'utf8');
  const block = /```promql\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  return block
    .split(/\n\s*\n/)
    .map(chunk => chunk.split('\n'))
    .map(lines => ({
      title: lines.filter(l => l.startsWith('#')).join(' '),
      query: lines.filter(l => !l.startsWith('#') && l.trim() !== '').join('\n'),
    }))
    .filter(q => q.query !== '');
}

/** Every `expr` of the Grafana dashboard, with its variables bound to this test's sidecar. */
function dashboardQueries(): { title: string; query: string }[] {
  const dashboard = JSON.parse(readFileSync(join(DOCS, 'grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr?: string }[] }[];
  };
  return dashboard.panels.flatMap(panel =>
    (panel.targets ?? [])
      .filter(t => t.expr)
      .map(t => ({
        title: `dashboard: ${panel.title}`,
        query: (t.expr as string)
          .replaceAll('$job', JOB)
          .replaceAll('$host', '.*')
          .replaceAll('$user', '.*')
          .replaceAll('$__range', '1h')
          .replaceAll('$__rate_interval', '1m'),
      })),
  );
}

/** The labels the outermost aggregation keeps (`sum by (job, host) (...)`), or [] for a plain `sum(...)`. */
function groupingLabels(query: string): string[] {
  const match = /^\s*(?:sum|max|min|avg|count) by \(([^)]*)\)/.exec(query);
  return match ? match[1].split(',').map(l => l.trim()) : [];
}

const missing = !tool('promtool') || !tool('prometheus') ? 'prometheus / promtool (apt-get install prometheus)' : null;

describe('the documented Prometheus files pass promtool', () => {
  beforeAll(() => {
    if (missing) throw new Error(`${missing} is not installed: .ci/run installs it`);
  });

  it('checks the recording rules', () => {
    const r = promtool(['check', 'rules', 'rules.yml']);
    expect(r.out).toContain('SUCCESS: 6 rules found');
    expect(r.code).toBe(0);
  });

  it('checks the training-job agent config with its targets file next to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pnav-promtool-'));
    try {
      copyFileSync(join(DOCS, 'training-job.yml'), join(dir, 'training-job.yml'));
      // training-job.sh writes targets.json next to the config; the documented example of it:
      copyFileSync(join(DOCS, 'training-job-targets.json'), join(dir, 'targets.json'));
      const r = promtool(['check', 'config', '--agent', 'training-job.yml'], dir);
      expect(r.out).not.toContain('WARNING');
      expect(r.out).toContain('SUCCESS: training-job.yml is valid prometheus config file syntax');
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks the JupyterHub scrape config (Debian builds Prometheus without Kubernetes discovery)', () => {
    const r = promtool(['check', 'config', 'jupyterhub-kubernetes.yml']);
    if (r.code === 0) {
      expect(r.out).toContain('SUCCESS');
      return;
    }
    // Debian's prometheus drops the Kubernetes service discovery; that must be the ONLY complaint.
    expect(r.out).toContain('field kubernetes_sd_configs not found in type config.ScrapeConfig');
    expect(r.out.match(/line \d+:/g)).toHaveLength(1);
    // Everything else (auth, relabelling regexes, metric relabelling) is checked with a static target
    // in place of the pod discovery.
    const dir = mkdtempSync(join(tmpdir(), 'pnav-promtool-'));
    try {
      // The credentials file is the Kubernetes Secret's mount: promtool wants it to exist.
      writeFileSync(join(dir, 'token'), 'hub-token', { mode: 0o600 });
      const config = readFileSync(join(DOCS, 'jupyterhub-kubernetes.yml'), 'utf8')
        .replace(
          / {4}kubernetes_sd_configs:\n {6}- role: pod\n {8}namespaces:\n {10}names: \[jhub\]\n/,
          "    static_configs:\n      - targets: ['10.0.0.1:8888']\n",
        )
        .replaceAll('/etc/prometheus/secrets/pnav-hub-token/token', join(dir, 'token'));
      expect(config).toContain('static_configs');
      expect(config).toContain(`credentials_file: ${join(dir, 'token')}`);
      writeFileSync(join(dir, 'jupyterhub-static.yml'), config);
      const checked = promtool(['check', 'config', 'jupyterhub-static.yml'], dir);
      expect(checked.out).toContain('SUCCESS: jupyterhub-static.yml is valid prometheus config file syntax');
      expect(checked.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(missing !== null)('a real Prometheus scraping a sidecar with its token', () => {
  let work: string;
  let sidecar: ChildProcess;
  let prometheus: ChildProcess;
  let promUrl: string;
  let sidecarUrl: string;
  let sidecarToken: string;
  let rapl: ReturnType<typeof fakeRapl>;
  let promLog = '';

  const pause = (ms: number) => new Promise(r => setTimeout(r, ms));

  async function query(promql: string): Promise<PromSeries[]> {
    const response = await fetch(`${promUrl}api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; error?: string; data: { result: PromSeries[] } };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  }

  async function untilSeries(promql: string, timeoutMs = 60_000): Promise<PromSeries[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const result = await query(promql);
      if (result.length > 0) return result;
      if (Date.now() > until) throw new Error(`no series for ${promql} after ${timeoutMs} ms\n${promLog.slice(-3000)}`);
      await pause(500);
    }
  }

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${sidecarUrl}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${sidecarToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status).toBeLessThan(300);
    return (await response.json()) as { run: { id: string } };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pnav-prometheus-'));
    rapl = fakeRapl(work);
    const runtime = join(work, 'runtime');
    const env: NodeJS.ProcessEnv = { ...process.env, PNAV_DATA_DIR: join(work, 'data') };
    delete env.PNAV_SIDECAR_URL;
    delete env.PNAV_SIDECAR_TOKEN;
    sidecar = spawn(
      process.execPath,
      [
        SIDECAR_CLI,
        'sidecar',
        '--port',
        '0',
        '--runtime-dir',
        runtime,
        '--sysfs-root',
        rapl.sysfsRoot,
        '--sample-interval',
        '200',
        '--country',
        'ESP',
        '--label',
        `job=${JOB}`,
      ],
      { env, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const runtimeFile = join(runtime, 'pnav-sidecar.json');
    for (let i = 0; i < 300 && !existsSync(runtimeFile); i++) await pause(100);
    ({ url: sidecarUrl, token: sidecarToken } = JSON.parse(readFileSync(runtimeFile, 'utf8')));
    // As the README says: the token in a 0600 file that Prometheus reads as `credentials_file`.
    writeFileSync(join(work, 'pnav-metrics-token'), sidecarToken, { mode: 0o600 });
    // The documented rules, evaluated every second instead of every minute so the test need not wait.
    const rules = readFileSync(join(DOCS, 'rules.yml'), 'utf8');
    expect(rules).toContain('interval: 1m');
    writeFileSync(join(work, 'rules.yml'), rules.replace('interval: 1m', 'interval: 1s'));
    writeFileSync(
      join(work, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files: [rules.yml]',
        'scrape_configs:',
        `  - job_name: ${SCRAPE_JOB}`,
        '    honor_labels: true',
        '    authorization: {type: Bearer, credentials_file: pnav-metrics-token}',
        `    static_configs: [{targets: ['${new URL(sidecarUrl).host}']}]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}/`;
    prometheus = spawn(
      tool('prometheus') as string,
      [
        `--config.file=${join(work, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(work, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      promLog = (promLog + chunk.toString()).slice(-20_000);
    };
    prometheus.stdout?.on('data', keep);
    prometheus.stderr?.on('data', keep);
    const until = Date.now() + 60_000;
    for (;;) {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited ${prometheus.exitCode}\n${promLog}`);
      const ready = await fetch(`${promUrl}-/ready`).then(
        r => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > until) throw new Error(`prometheus not ready\n${promLog}`);
      await pause(250);
    }
  }, 120_000);

  afterAll(async () => {
    for (const child of [prometheus, sidecar]) {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise(r => child.once('exit', r));
      }
    }
    rapl?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('scrapes the sidecar with the token, keeping the sidecar job label (honor_labels)', async () => {
    const up = await untilSeries(`up{job="${SCRAPE_JOB}"} == 1`);
    expect(up).toHaveLength(1);
    const energy = await untilSeries(`pnav_energy_joules_total{job="${JOB}"}`);
    for (const series of energy) {
      expect(Object.keys(series.metric)).toEqual(
        expect.arrayContaining(['job', 'host', 'user', 'component', 'method', 'measured']),
      );
    }
  });

  it('sees the counters rise while a run is open', async () => {
    const run = await api('POST', '/runs', { kind: 'manual', label: 'prometheus test', labels: { job: JOB } });
    const total = async () => Number((await untilSeries(`sum(pnav_energy_joules_total{job="${JOB}"})`))[0].value[1]);
    await untilSeries(`pnav_open_runs{job="${JOB}"} == 1`);
    const before = await total();
    await pause(2500);
    expect(await total()).toBeGreaterThan(before);
    await api('POST', `/runs/${run.run.id}/close`, { status: 'ok' });
    await untilSeries(`pnav_runs_closed_total{job="${JOB}"} > 0`);
    await untilSeries(`pnav_run_facility_energy_joules_total{job="${JOB}"} > 0`);
  });

  it('answers every query of the README with the labels it groups by', async () => {
    const queries = readmeQueries();
    expect(queries.length).toBeGreaterThanOrEqual(7);
    for (const { title, query: promql } of queries) {
      const result = await untilSeries(promql, 30_000);
      for (const series of result) {
        expect(Object.keys(series.metric).sort(), `${title}\n${promql}`).toEqual(groupingLabels(promql).sort());
        expect(Number.isFinite(Number(series.value[1])), `${title}: ${series.value[1]}`).toBe(true);
      }
      if (groupingLabels(promql).includes('job')) {
        expect(
          result.map(s => s.metric.job),
          title,
        ).toContain(JOB);
      }
    }
  });

  it('evaluates every recording rule into series with the labels it keeps', async () => {
    const rules = [
      ...readFileSync(join(DOCS, 'rules.yml'), 'utf8').matchAll(
        /- record: (\S+)\n\s+expr: \|?\s*([\s\S]*?)(?=\n\s+(?:#|- record)|\n*$)/g,
      ),
    ];
    expect(rules).toHaveLength(6);
    for (const [, record, expr] of rules) {
      const result = await untilSeries(record, 30_000);
      for (const series of result) {
        expect(Object.keys(series.metric).sort(), record).toEqual(['__name__', ...groupingLabels(expr)].sort());
      }
    }
  });

  it('answers every Grafana dashboard panel query', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(9);
    for (const { title, query: promql } of queries) {
      const result = await untilSeries(promql, 30_000);
      for (const series of result) {
        expect(Object.keys(series.metric).sort(), `${title}\n${promql}`).toEqual(groupingLabels(promql).sort());
      }
    }
  });
});
