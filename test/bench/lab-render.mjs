#!/usr/bin/env node
/**
 * Lab benchmark, in the same real stack as the e2e test (JupyterLab 4 + extension + server
 * extension + sidecar, Debian Chromium):
 *
 * 1. sample → chart latency: for every stream sample the chart draws, the time from the sample's
 *    timestamp (`sample.t`, stamped by the sidecar when it reads the counters, so it includes the
 *    WebSocket, the Jupyter proxy and the browser) to uPlot's draw hook. Target ≤ 250 ms.
 * 2. panel render with 1,000 runs in the notebook: the runs table's full render (DOM build, then
 *    forced style and layout), repeated; and the first render after loading the 1,000 runs.
 *    Target ≤ 100 ms.
 *
 * Prints figures and writes test/bench/results/lab-render.json. Never fails on a timing.
 *
 *   node test/bench/lab-render.mjs [--runs 1000] [--latency-s 20] [--repeat 30]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as harness from '../e2e/lab-harness.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const RUNS = option('--runs', 1000);
const LATENCY_S = option('--latency-s', 20);
const REPEAT = option('--repeat', 30);
const SAMPLE_INTERVAL_MS = option('--sample-interval', 250);
const NOTEBOOK = 'bench.ipynb';

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = q => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

/** Opens and closes `count` cell runs of the notebook straight at the sidecar, 8 at a time. */
async function seedRuns(lab, count) {
  const { url, token } = JSON.parse(readFileSync(join(lab.dirs.runtime, 'pnav-sidecar.json'), 'utf8'));
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const notebookPath = join(lab.dirs.root, NOTEBOOK);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const body = {
        kind: 'cell',
        notebookPath,
        cellId: `bench-cell-${i}`,
        executionCount: i + 1,
        label: `bench run ${i}`,
      };
      const opened = await fetch(`${url}/api/v1/runs`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (opened.status !== 201) throw new Error(`open run: ${opened.status} ${await opened.text()}`);
      const { run } = await opened.json();
      const closed = await fetch(`${url}/api/v1/runs/${run.id}/close`, { method: 'POST', headers, body: '{}' });
      if (!closed.ok) throw new Error(`close run: ${closed.status} ${await closed.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function main() {
  const missing = harness.missingPrerequisite();
  if (missing) {
    console.log(`lab-render: SKIPPED, ${missing}`);
    return;
  }
  const lab = await harness.startLab({
    notebooks: { [NOTEBOOK]: harness.notebook(['%%pnav\nx = 1']) },
    sampleIntervalMs: SAMPLE_INTERVAL_MS,
  });
  let browser;
  try {
    const seedStart = performance.now();
    await seedRuns(lab, RUNS);
    const seedS = (performance.now() - seedStart) / 1000;
    browser = await harness.launchBrowser();
    const page = await harness.openNotebook(browser.context, lab, NOTEBOOK);
    // The plugin registers its commands after the notebook opens: wait for it, don't race it.
    await page.waitForFunction(() => window.jupyterapp.commands.hasCommand('pnav-lab:open-panel'), null, {
      timeout: 60_000,
    });
    await page.evaluate(() => window.jupyterapp.commands.execute('pnav-lab:open-panel'));
    await page.waitForFunction(
      n => document.querySelector('#pnav-lab-panel .jp-pnav-RunsTable')?.dataset.rows === String(n),
      RUNS,
      { timeout: 60_000 },
    );
    const firstRenderMs = Number(
      await page.locator('#pnav-lab-panel .jp-pnav-RunsTable').getAttribute('data-render-ms'),
    );

    // Full re-renders of the 1,000 rows, each followed by a forced style + layout.
    const renders = await page.evaluate(repeat => {
      const panel = [...window.jupyterapp.shell.widgets('right')].find(w => w.id === 'pnav-lab-panel');
      const out = { buildMs: [], withLayoutMs: [] };
      for (let i = 0; i < repeat; i++) {
        const start = performance.now();
        panel.table.renderAll();
        const built = performance.now();
        void panel.table.node.getBoundingClientRect().height;
        out.buildMs.push(built - start);
        out.withLayoutMs.push(performance.now() - start);
      }
      return out;
    }, REPEAT);

    // Sample → chart: start afresh and let the chart draw for a while.
    await page.evaluate(() => {
      const panel = [...window.jupyterapp.shell.widgets('right')].find(w => w.id === 'pnav-lab-panel');
      panel.chart.latenciesMs.length = 0;
    });
    await page.waitForTimeout(LATENCY_S * 1000);
    const latencies = await page.evaluate(() => {
      const panel = [...window.jupyterapp.shell.widgets('right')].find(w => w.id === 'pnav-lab-panel');
      return [...panel.chart.latenciesMs];
    });
    mkdirSync(join(harness.ROOT, 'test', 'artifacts', 'screenshots'), { recursive: true });
    await page
      .locator('#pnav-lab-panel')
      .screenshot({ path: join(harness.ROOT, 'test', 'artifacts', 'screenshots', 'panel-1000-runs.png') });

    const result = {
      date: new Date().toISOString(),
      command: `node test/bench/lab-render.mjs ${argv.join(' ')}`.trim(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown' },
      browser: harness.CHROMIUM,
      runs: RUNS,
      seedS,
      sampleIntervalMs: SAMPLE_INTERVAL_MS,
      sampleToChartMs: stats(latencies),
      panelFirstRenderMs: firstRenderMs,
      panelRenderBuildMs: stats(renders.buildMs),
      panelRenderWithLayoutMs: stats(renders.withLayoutMs),
      targets: { sampleToChartMs: 250, panelRenderMs: 100 },
    };
    const fmt = s => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (n=${s.n})`;
    console.log(`lab-render (${RUNS} runs seeded in ${seedS.toFixed(1)} s; sample interval ${SAMPLE_INTERVAL_MS} ms)`);
    console.log(`  sample → chart drawn          ${fmt(result.sampleToChartMs)}   target ≤ 250 ms`);
    console.log(`  panel first render (${RUNS} runs) ${firstRenderMs.toFixed(1)} ms (DOM build)   target ≤ 100 ms`);
    console.log(`  panel re-render, DOM build     ${fmt(result.panelRenderBuildMs)}`);
    console.log(`  panel re-render, + layout      ${fmt(result.panelRenderWithLayoutMs)}   target ≤ 100 ms`);
    const results = join(harness.ROOT, 'test', 'bench', 'results');
    mkdirSync(results, { recursive: true });
    writeFileSync(join(results, 'lab-render.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await browser?.close();
    await lab.stop();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
