/**
 * The demo notebook as a first-time user meets it: JupyterLab opens it, Run All, every cell runs
 * without a traceback or a warning, and the training run reaches the sidecar (through JupyterLab's
 * /pnav/ proxy) with one energy figure per epoch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as harness from './lab-harness.mjs';

const DEMO = 'pnav-demo.ipynb';

interface IRunsWindow {
  jupyterapp: { commands: { execute(id: string, args?: unknown): Promise<unknown> } };
}

const missing: string | null = harness.missingPrerequisite();

describe.skipIf(missing !== null)('the demo notebook in JupyterLab (e2e)', () => {
  let lab: harness.Lab;
  let browser: Awaited<ReturnType<typeof harness.launchBrowser>>;
  let page: Page;
  const demo = JSON.parse(readFileSync(join(harness.ROOT, 'python-shim', 'examples', DEMO), 'utf8'));
  const codeCells = demo.cells.filter((c: { cell_type: string }) => c.cell_type === 'code').length;

  beforeAll(async () => {
    lab = await harness.startLab({ notebooks: { [DEMO]: demo } });
    browser = await harness.launchBrowser();
    page = await harness.openNotebook(browser.context, lab, DEMO);
  });

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('runs top to bottom with Run All: no traceback, no warning, every cell executed', async () => {
    await page.evaluate(() => (window as unknown as IRunsWindow).jupyterapp.commands.execute('notebook:run-all-cells'));
    const prompts = page.locator('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt');
    await expect
      .poll(async () => (await prompts.allTextContents()).filter(t => /\[\d+\]/.test(t)).length, { timeout: 170_000 })
      .toBe(codeCells);
    const errors = await page
      .locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
      .allTextContents();
    expect(errors).toEqual([]);
    const outputs = (await page.locator('.jp-NotebookPanel .jp-OutputArea').allTextContents()).join('\n');
    expect(outputs).not.toMatch(/Traceback|Error:|Warning/);
    expect(outputs).toMatch(/epoch 9: loss [\d.]+, test accuracy 0\.9\d\d/);
  });

  it('records the training run with its epochs, reachable through the /pnav/ proxy', async () => {
    const auth = { headers: { Authorization: `token ${lab.token}` } };
    const body = await (await fetch(`${lab.url}pnav/api/v1/runs`, auth)).json();
    const ofDemo = body.runs.filter((r: { notebookPath: string | null }) => r.notebookPath?.endsWith(DEMO));
    expect(ofDemo.length, JSON.stringify(body.runs.map((r: { notebookPath: string }) => r.notebookPath))).toBe(2);
    const training = ofDemo.filter((r: { typeProcess: string }) => r.typeProcess === 'training');
    expect(training).toHaveLength(1);
    expect(training[0].status).toBe('ok');
    expect(training[0].epochs).toHaveLength(10);
    expect(training[0].epochs.every((e: { energyJ: number }) => e.energyJ > 0)).toBe(true);
    expect(ofDemo.map((r: { typeProcess: string }) => r.typeProcess).sort()).toEqual(['inference', 'training']);
  });
});
