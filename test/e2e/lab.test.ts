/**
 * End to end: real JupyterLab 4 with the built extension, the pnav_lab server extension and the
 * real sidecar (fake RAPL sysfs at the hardware boundary), Debian's Chromium via playwright-core.
 * Runs a `%%pnav --epochs 3` cell and checks what the user sees: the marker, the line under the
 * cell, the panel's run and epoch rows, a CSV export and an upload to a local PNAV endpoint.
 * Screenshots go to test/artifacts/screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as harness from './lab-harness.mjs';

const SHOTS = join(harness.ROOT, 'test', 'artifacts', 'screenshots');
const NOTEBOOK = 'e2e.ipynb';
const CELL = '%%pnav --epochs 3\nimport time, pnav_lab\nfor e in pnav_lab.epochs(range(3)):\n    time.sleep(0.3)';
const TOKEN = 'ab'.repeat(32);
const MODEL_ID = '0123456789abcdef'.repeat(4);

/** What the tests reach in the page: JupyterLab's app (exposed with --LabApp.expose_app_in_browser). */
interface ILabWindow {
  jupyterapp: {
    commands: { execute(id: string, args?: unknown): Promise<unknown>; hasCommand(id: string): boolean };
    shell: {
      currentWidget: {
        content: {
          activeCellIndex: number;
          widgets: { model: { getMetadata(key: string): { energyJ: number; epochsDone: number } } }[];
        };
      };
    };
  };
  __pnavPhases: string[];
}

const missing: string | null = harness.missingPrerequisite();
if (missing) {
  console.warn(`\n!!! e2e SKIPPED: ${missing}\n`);
}

describe.skipIf(missing !== null)('PNAV Lab in JupyterLab (e2e)', () => {
  let lab: harness.Lab;
  let mock: harness.MockPnav;
  let browser: Awaited<ReturnType<typeof harness.launchBrowser>>;
  let page: Page;
  const panel = () => page.locator('#pnav-lab-panel');
  const firstCell = () => page.locator('.jp-NotebookPanel .jp-CodeCell').first();

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    mock = await harness.startMockPnav();
    lab = await harness.startLab({ notebooks: { [NOTEBOOK]: harness.notebook([CELL]) } });
    browser = await harness.launchBrowser();
    page = await harness.openNotebook(browser.context, lab, NOTEBOOK);
  });

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
    await mock?.stop();
  });

  it('marks %%pnav cells, including one as it is typed', async () => {
    await expect.poll(() => firstCell().evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(true);
    await expect.poll(() => firstCell().locator('.jp-pnav-CellLine').getAttribute('data-phase')).toBe('pending');
    await page.evaluate(() => {
      const app = (window as unknown as ILabWindow).jupyterapp;
      app.shell.currentWidget.content.activeCellIndex = 0;
      return app.commands.execute('notebook:insert-cell-below');
    });
    const second = page.locator('.jp-NotebookPanel .jp-CodeCell').nth(1);
    await second.locator('.cm-content').click();
    expect(await second.evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(false);
    await page.keyboard.type('%%pnav');
    await expect.poll(() => second.evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(true);
    await page.keyboard.type('x');
    await expect.poll(() => second.evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(false);
  });

  it('shows live then final figures under the cell, without a %load_ext line', async () => {
    await firstCell().evaluate(cell => {
      const phases: string[] = [];
      const line = cell.querySelector('.jp-pnav-CellLine') as HTMLElement;
      new MutationObserver(() => phases.push(line.dataset.phase ?? '')).observe(line, { attributes: true });
      (window as unknown as ILabWindow).__pnavPhases = phases;
    });
    await page.evaluate(() => {
      const app = (window as unknown as ILabWindow).jupyterapp;
      app.shell.currentWidget.content.activeCellIndex = 0;
      return app.commands.execute('notebook:run-cell');
    });
    const line = firstCell().locator('.jp-pnav-CellLine');
    await expect.poll(() => line.getAttribute('data-phase'), { timeout: 60_000 }).toBe('done');
    const outputs = (await firstCell().locator('.jp-OutputArea').textContent()) ?? '';
    expect(outputs).not.toContain('UsageError');
    const phases = await page.evaluate(() => (window as unknown as ILabWindow).__pnavPhases);
    expect(phases).toContain('running');
    const text = (await line.locator('.jp-pnav-CellLine-text').textContent()) ?? '';
    expect(text).toMatch(/^[\d.,]+ (J|Wh|kWh) · [\d.,]+ (mg|g|kg) CO₂e · [\d.,]+ s · 3\/3 epochs$/);
    expect(Number.parseFloat(text)).toBeGreaterThan(0);
    expect(await line.locator('.jp-pnav-Quality').count()).toBe(1);
    expect(await line.getAttribute('title')).toContain('CPU: RAPL energy counters (measured)');
    const stored = await page.evaluate(() =>
      (window as unknown as ILabWindow).jupyterapp.shell.currentWidget.content.widgets[0].model.getMetadata('pnav'),
    );
    expect(stored.energyJ).toBeGreaterThan(0);
    expect(stored.epochsDone).toBe(3);
    await firstCell().screenshot({ path: join(SHOTS, 'cell-line.png') });
  });

  it('lists the run in the panel with energy above zero and its epochs', async () => {
    // The plugin registers its commands after the notebook opens: wait for it, don't race it.
    await page.waitForFunction(
      () => (window as unknown as ILabWindow).jupyterapp.commands.hasCommand('pnav-lab:open-panel'),
      null,
      { timeout: 60_000 },
    );
    await page.evaluate(() => (window as unknown as ILabWindow).jupyterapp.commands.execute('pnav-lab:open-panel'));
    const row = panel().locator('.jp-pnav-RunsTable tbody tr[data-run-id]').first();
    await row.waitFor({ timeout: 30_000 });
    expect(await row.locator('.jp-pnav-RunName').textContent()).toBe('import time, pnav_lab');
    expect(await row.locator('td').nth(1).locator('.jp-pnav-RunMeta').textContent()).toMatch(/^\[1\] ok · [\d.]+ s$/);
    const energy = (await row.locator('.jp-pnav-Energy').textContent()) ?? '';
    expect(energy).toMatch(/^[\d.,]+ (J|Wh|kWh)$/);
    expect(Number.parseFloat(energy)).toBeGreaterThan(0);
    await expect.poll(() => panel().locator('.jp-pnav-Connection-live').count()).toBe(1);
    await row.locator('td').nth(1).click();
    await expect.poll(() => panel().locator('.jp-pnav-Epochs tbody tr').count()).toBe(3);
    // The chart drew samples from the stream.
    await expect
      .poll(() => panel().locator('.jp-pnav-PowerChart').getAttribute('data-last-sample-t'), { timeout: 20_000 })
      .not.toBeNull();
    await panel().screenshot({ path: join(SHOTS, 'panel.png') });
    await page.screenshot({ path: join(SHOTS, 'lab.png') });
  });

  it('exports the notebook runs as PNAV CSV through a browser download', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      panel().locator('button[data-command="pnav-lab:export-csv"]').click(),
    ]);
    const file = join(SHOTS, '..', download.suggestedFilename());
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
    expect(lines[0].startsWith('timestamp,type_process,model_id,ref,duration,emissions')).toBe(true);
    expect(lines).toHaveLength(2);
  });

  it('uploads to a local PNAV endpoint after checking the form, and shows it sent', async () => {
    await panel().locator('button[data-command="pnav-lab:upload"]').click();
    const form = page.locator('.jp-Dialog .jp-pnav-UploadForm');
    await form.waitFor();
    await form.locator('input[name="token"]').fill('not a token');
    await form.locator('input[name="modelId"]').fill(MODEL_ID);
    await form.locator('input[name="endpointUrl"]').fill(`${mock.url}api/v1/emissions`);
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect
      .poll(() => form.locator('.jp-pnav-FieldError').first().textContent())
      .toBe('The token must be a 64-character hexadecimal string.');
    expect(await form.locator('input[name="token"]').getAttribute('type')).toBe('password');
    await form.locator('input[name="token"]').fill(TOKEN.toUpperCase());
    await form.locator('.jp-pnav-PreviewButton').click();
    await expect
      .poll(() => form.locator('.jp-pnav-PreviewTable').textContent(), { timeout: 20_000 })
      .toContain('energy_consumed');
    await page.screenshot({ path: join(SHOTS, 'upload-dialog.png') });
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    const sent = panel().locator('.jp-pnav-Upload[data-status="sent"]');
    await expect.poll(() => sent.count(), { timeout: 60_000 }).toBe(1);
    const { received } = (await mock.received()) as { received: unknown[] };
    expect(received).toHaveLength(1);
    await expect.poll(() => page.locator('.Toastify__toast').count(), { timeout: 15_000 }).toBe(0);
    await panel().locator('.jp-pnav-Uploads').scrollIntoViewIfNeeded();
    await panel().screenshot({ path: join(SHOTS, 'panel-uploaded.png') });
  });

  it('keeps the token out of the saved notebook and keeps the summary in it', async () => {
    await page.evaluate(() => (window as unknown as ILabWindow).jupyterapp.commands.execute('docmanager:save'));
    await expect
      .poll(() => readFileSync(join(lab.dirs.root, NOTEBOOK), 'utf8'), { timeout: 20_000 })
      .toContain('"pnav"');
    const saved = readFileSync(join(lab.dirs.root, NOTEBOOK), 'utf8');
    expect(saved).not.toContain(TOKEN);
    expect(lab.output()).not.toContain(TOKEN);
    const latency = await panel().locator('.jp-pnav-PowerChart').getAttribute('data-last-latency-ms');
    console.log(`e2e: last sample-to-draw latency ${latency} ms`);
  });

  it('follows the dark theme through JupyterLab variables', async () => {
    await page.evaluate(() =>
      (window as unknown as ILabWindow).jupyterapp.commands.execute('apputils:change-theme', {
        theme: 'JupyterLab Dark',
      }),
    );
    await expect.poll(() => page.evaluate(() => document.body.dataset.jpThemeLight)).toBe('false');
    const colors = await panel().evaluate(node => {
      const style = getComputedStyle(node);
      return { background: style.backgroundColor, text: style.color };
    });
    // Dark background, light text: both come from the theme, none is hard-coded.
    const luminance = (rgb: string) => {
      const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    expect(luminance(colors.background)).toBeLessThan(80);
    expect(luminance(colors.text)).toBeGreaterThan(150);
    await panel().locator('.jp-pnav-RunsTable').scrollIntoViewIfNeeded();
    await panel().screenshot({ path: join(SHOTS, 'panel-dark.png') });
  });
});
