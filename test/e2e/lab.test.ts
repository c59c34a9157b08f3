/**
 * End to end: real JupyterLab 4 with the built extension, the pnav_lab server extension and the
 * real sidecar (fake RAPL sysfs at the hardware boundary), Debian's Chromium via playwright-core,
 * and a local PNAV endpoint (`pnav mock-pnav`, accepting one token). A first-time user's path on
 * a notebook with a training and an inference run: the line under each cell (on open, on reload,
 * on a new cell), the panel and its epochs, the status-bar meter, CSV and BoAmps exports, and
 * uploads through wrong tokens, an unreachable endpoint, a duplicate, cancel and retry. axe-core
 * checks WCAG 2 A/AA (contrast included) in the light and dark themes.
 * Screenshots (250 px and 600 px panels, both themes) go to test/artifacts/screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as harness from './lab-harness.mjs';

const SHOTS = join(harness.ROOT, 'test', 'artifacts', 'screenshots');
const NOTEBOOK = 'demo-mixed.ipynb';
const TRAIN =
  '%%pnav --epochs 3\nimport time, pnav_lab\ntime.sleep(0.2)\nfor e in pnav_lab.epochs(range(3)):\n    time.sleep(0.3)';
const PLAIN = 'x = 1';
const INFER = '%%pnav --type inference --label predict\nimport time\ntime.sleep(0.3)';
const TOKEN = 'ab'.repeat(32);
const WRONG_TOKEN = 'ef'.repeat(32);
const MODEL_ID = '0123456789abcdef'.repeat(4);
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** What the tests reach in the page: JupyterLab's app (exposed with --LabApp.expose_app_in_browser). */
interface ILabWindow {
  jupyterapp: {
    commands: { execute(id: string, args?: unknown): Promise<unknown>; hasCommand(id: string): boolean };
    shell: {
      _hsplitPanel: { node: HTMLElement; setRelativeSizes(sizes: number[]): void };
      currentWidget: {
        content: {
          activeCellIndex: number;
          widgets: { model: { getMetadata(key: string): { energyJ: number; epochsDone: number } } }[];
        };
      };
    };
  };
  __pnavPhases: string[];
  axe: {
    run(
      context: unknown,
      options: unknown,
    ): Promise<{
      violations: { id: string; nodes: { target: string[]; failureSummary: string }[] }[];
      passes: { id: string; nodes: unknown[] }[];
      incomplete: { id: string; nodes: { target: string[]; failureSummary: string }[] }[];
    }>;
  };
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
  const cell = (n: number) => page.locator('.jp-NotebookPanel .jp-CodeCell').nth(n);
  const lineOf = (n: number) => cell(n).locator('.jp-pnav-CellLine');
  const dialog = () => page.locator('.jp-Dialog');
  const command = (id: string, args?: unknown) =>
    page.evaluate(
      ([i, a]) => (window as unknown as ILabWindow).jupyterapp.commands.execute(i as string, a),
      [id, args],
    );
  const runCell = async (index: number) => {
    await page.evaluate(i => {
      const app = (window as unknown as ILabWindow).jupyterapp;
      app.shell.currentWidget.content.activeCellIndex = i;
      return app.commands.execute('notebook:run-cell');
    }, index);
    await expect.poll(() => lineOf(index).getAttribute('data-phase'), { timeout: 60_000 }).toBe('done');
  };
  /** Whether the element right before the line is the cell's input area (as execute-time places its line). */
  const lineSitsUnderInput = (n: number) =>
    lineOf(n).evaluate(line => line.previousElementSibling?.classList.contains('jp-Cell-inputWrapper') ?? false);
  const openPanel = async () => {
    await page.waitForFunction(
      () => (window as unknown as ILabWindow).jupyterapp.commands.hasCommand('pnav-lab:open-panel'),
      null,
      { timeout: 60_000 },
    );
    await command('pnav-lab:open-panel');
    await panel().waitFor();
  };
  const uploadRow = (status: string) => panel().locator(`.jp-pnav-Upload[data-status="${status}"]`);
  const fillUpload = async (token: string, endpoint: string, records: { training: boolean; inference: boolean }) => {
    await panel().locator('button[data-command="pnav-lab:upload"]').click();
    const form = dialog().locator('.jp-pnav-UploadForm');
    await form.waitFor();
    await form.locator('input[name="token"]').fill(token);
    await form.locator('input[name="modelId"]').fill(MODEL_ID);
    await form.locator('input[name="endpointUrl"]').fill(endpoint);
    await form.locator('input[name="record-training"]').setChecked(records.training);
    await form.locator('input[name="record-inference"]').setChecked(records.inference);
    return form;
  };
  const accept = () => dialog().locator('.jp-mod-accept').click();
  /**
   * axe-core on the nodes matching `selector`: the WCAG 2 A and AA rules. Returns the violations, readable.
   */
  const axe = async (selector: string) => {
    await page.evaluate(source => {
      if (!(window as unknown as Partial<ILabWindow>).axe) new Function(source)();
    }, AXE_SOURCE);
    // One scan per matching element: axe reads an element as its context, not a list of them.
    const result = await page.evaluate(async sel => {
      const merged: Awaited<ReturnType<ILabWindow['axe']['run']>> = { violations: [], passes: [], incomplete: [] };
      for (const node of document.querySelectorAll(sel)) {
        const one = await (window as unknown as ILabWindow).axe.run(node, {
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
        });
        merged.violations.push(...one.violations);
        merged.passes.push(...one.passes);
        merged.incomplete.push(...one.incomplete);
      }
      return merged;
    }, selector);
    return result.violations.map(
      v => `${v.id}: ${v.nodes.map(n => `${n.target.join(' ')} (${n.failureSummary})`).join('; ')}`,
    );
  };
  /**
   * WCAG contrast of every visible text in the nodes matching `selector`: the text colour against
   * the first opaque background up the tree (alpha blended), at least 4.5:1 (3:1 for large text).
   * axe-core's own color-contrast rule finds almost no node applicable inside JupyterLab's
   * absolutely positioned, contained layout (it checked 6 nodes of the whole page), so the ratio
   * is computed here for every text the user reads. Returns the texts below the threshold.
   */
  const lowContrast = (selector: string) =>
    page.evaluate(sel => {
      const parse = (css: string) => (css.match(/[\d.]+/g) ?? ['0', '0', '0', '0']).map(Number);
      const channel = (c: number) => {
        const v = c / 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      const luminance = ([r, g, b]: number[]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
      const blend = (top: number[], bottom: number[]) => {
        const a = top[3] ?? 1;
        return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a));
      };
      const background = (node: Element): number[] => {
        const layers: number[][] = [];
        for (let at: Element | null = node; at; at = at.parentElement) {
          const color = parse(getComputedStyle(at).backgroundColor);
          if ((color[3] ?? 1) > 0) layers.push(color);
          if ((color[3] ?? 1) >= 1) break;
        }
        return layers.reverse().reduce((under, layer) => blend(layer, under), [255, 255, 255]);
      };
      const low: string[] = [];
      for (const root of document.querySelectorAll(sel)) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let text = walker.nextNode(); text; text = walker.nextNode()) {
          const element = text.parentElement;
          if (!element || !text.textContent?.trim() || element.closest('[aria-hidden="true"]')) continue;
          const style = getComputedStyle(element);
          const rect = element.getBoundingClientRect();
          if (style.visibility === 'hidden' || style.display === 'none' || rect.width === 0 || rect.height === 0)
            continue;
          const bg = background(element);
          const fg = blend(parse(style.color), bg);
          const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
          const ratio = (hi + 0.05) / (lo + 0.05);
          const size = Number.parseFloat(style.fontSize);
          const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
          if (ratio < (large ? 3 : 4.5))
            low.push(
              `${text.textContent.trim().slice(0, 40)} (${ratio.toFixed(2)}:1, ${style.color} on rgb(${bg.map(Math.round).join(', ')}))`,
            );
        }
      }
      return low;
    }, selector);
  /** The right sidebar at `widthPx` (JupyterLab's main split panel: left, main, right). */
  const panelWidth = async (widthPx: number): Promise<number> => {
    await page.evaluate(width => {
      const split = (window as unknown as ILabWindow).jupyterapp.shell._hsplitPanel;
      const total = split.node.clientWidth;
      const left = document.getElementById('jp-left-stack')?.offsetWidth ?? 0;
      split.setRelativeSizes([left, total - left - width, width]);
    }, widthPx);
    await page.waitForTimeout(300);
    return panel().evaluate(node => node.getBoundingClientRect().width);
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    mock = await harness.startMockPnav({ token: TOKEN });
    lab = await harness.startLab({ notebooks: { [NOTEBOOK]: harness.notebook([TRAIN, PLAIN, INFER]) } });
    browser = await harness.launchBrowser();
    page = await harness.openNotebook(browser.context, lab, NOTEBOOK);
  });

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
    await mock?.stop();
  });

  it('draws the line directly under the input of the measured cells a notebook opens with', async () => {
    await expect.poll(() => lineOf(0).getAttribute('data-phase')).toBe('pending');
    await expect.poll(() => lineOf(2).getAttribute('data-phase')).toBe('pending');
    expect(await lineSitsUnderInput(0)).toBe(true);
    expect(await lineSitsUnderInput(2)).toBe(true);
    expect(await cell(1).locator('.jp-pnav-CellLine').count()).toBe(0);
    // The translator keeps both % of the magic's name.
    expect(await lineOf(0).textContent()).toBe('%%pnav: energy will be measured when this cell runs');
  });

  it('marks a cell as %%pnav is typed, with its line under the input', async () => {
    await page.evaluate(() => {
      const app = (window as unknown as ILabWindow).jupyterapp;
      app.shell.currentWidget.content.activeCellIndex = 2;
      return app.commands.execute('notebook:insert-cell-below');
    });
    const added = cell(3);
    await added.locator('.cm-content').click();
    expect(await added.evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(false);
    await page.keyboard.type('%%pnav');
    await expect.poll(() => added.evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(true);
    expect(await lineSitsUnderInput(3)).toBe(true);
    await page.keyboard.type('x');
    await expect.poll(() => added.evaluate(n => n.classList.contains('jp-pnav-marked'))).toBe(false);
    await command('notebook:delete-cell');
  });

  it('shows live progress, then the final figures under the cell, and no printed summary', async () => {
    await lineOf(0).evaluate(line => {
      const phases: string[] = [];
      new MutationObserver(() => phases.push((line as HTMLElement).dataset.phase ?? '')).observe(line, {
        attributes: true,
      });
      (window as unknown as ILabWindow).__pnavPhases = phases;
    });
    await runCell(0);
    const phases = await page.evaluate(() => (window as unknown as ILabWindow).__pnavPhases);
    expect(phases).toContain('running');
    const text = (await lineOf(0).locator('.jp-pnav-CellLine-text').textContent()) ?? '';
    expect(text).toMatch(/^[\d.,]+ (mJ|J|kJ|MJ) · [\d.,]+ (mg|g|kg) CO₂e · [\d.,]+ s · 3\/3 epochs$/);
    expect(Number.parseFloat(text)).toBeGreaterThan(0);
    expect(await lineOf(0).locator('.jp-pnav-Quality').count()).toBe(1);
    expect(await lineOf(0).getAttribute('title')).toContain('CPU: RAPL energy counters (measured)');
    // The line shows the figures: the kernel does not print them a second time.
    const outputs = (await cell(0).locator('.jp-OutputArea').textContent()) ?? '';
    expect(outputs).not.toContain('pnav:');
    expect(outputs).not.toContain('UsageError');
    const stored = await page.evaluate(() =>
      (window as unknown as ILabWindow).jupyterapp.shell.currentWidget.content.widgets[0].model.getMetadata('pnav'),
    );
    expect(stored.epochsDone).toBe(3);
    await runCell(2);
    // The leaf marker leaves the execution count whole.
    const prompt = cell(0).locator('.jp-InputPrompt');
    expect(await prompt.evaluate(node => node.scrollWidth <= node.clientWidth)).toBe(true);
    expect(((await prompt.textContent()) ?? '').trim()).toMatch(/^\[\d+\]:$/);
    await cell(0).screenshot({ path: join(SHOTS, 'cell-line.png') });
  });

  it('lists the runs in a titled panel, epochs numbered as the loop numbers them plus the set-up outside them', async () => {
    await openPanel();
    expect(await panel().locator('.jp-pnav-Title').textContent()).toBe('PNAV Lab · energy and CO₂');
    const rows = panel().locator('.jp-pnav-RunsTable tbody tr[data-run-id]');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(2);
    expect(await rows.nth(0).locator('.jp-pnav-RunName').textContent()).toBe('predict');
    expect(await rows.nth(1).locator('.jp-pnav-RunName').textContent()).toBe('import time, pnav_lab');
    expect(await rows.nth(1).locator('td:nth-child(2) .jp-pnav-RunMeta').textContent()).toMatch(/^\[\d+\] · [\d.]+ s$/);
    expect(await rows.nth(1).locator('.jp-pnav-Energy').textContent()).toMatch(/^[\d.,]+ (mJ|J|kJ|MJ)$/);
    // One Tab stop for the table; arrows move between rows.
    expect(await rows.evaluateAll(nodes => nodes.map(n => (n as HTMLElement).tabIndex))).toEqual([0, -1]);
    await rows.nth(0).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-run-id'))).toBe(
      await rows.nth(1).getAttribute('data-run-id'),
    );
    await page.keyboard.press('Enter');
    const epochs = panel().locator('.jp-pnav-Epochs tbody tr');
    await expect.poll(() => epochs.count()).toBe(4);
    expect(await epochs.evaluateAll(nodes => nodes.map(n => (n as HTMLElement).dataset.epoch))).toEqual([
      '0',
      '1',
      '2',
      'outside',
    ]);
    expect(await epochs.nth(3).locator('td').first().textContent()).toBe('outside epochs');
    // No GPU on this machine: no GPU in the legend.
    expect(await panel().locator('.jp-pnav-Legend').textContent()).not.toContain('GPU');
    await expect
      .poll(() => panel().locator('.jp-pnav-PowerChart').getAttribute('data-last-sample-t'), { timeout: 20_000 })
      .not.toBeNull();
    expect(await panel().locator('.jp-pnav-PowerChart .u-legend').textContent()).not.toContain('GPU');
    await expect.poll(() => panel().locator('.jp-pnav-Connection-live').count()).toBe(1);
  });

  it('shows power and energy since JupyterLab opened in the status bar, and opens the panel from it', async () => {
    const item = page.locator('.jp-pnav-StatusItem');
    await expect
      .poll(() => item.textContent(), { timeout: 20_000 })
      .toMatch(/^[\d.,]+ W · [\d.,]+ (mJ|J|kJ|MJ) · [\d.,]+ (mg|g|kg) CO₂e (measured|mixed|estimated)$/);
    await command('filebrowser:activate');
    await item.click();
    await expect.poll(() => panel().isVisible()).toBe(true);
  });

  it('keeps the figures under the cell after saving and reloading the page', async () => {
    await command('docmanager:save');
    await expect
      .poll(() => readFileSync(join(lab.dirs.root, NOTEBOOK), 'utf8'), { timeout: 20_000 })
      .toContain('"pnav"');
    await page.reload();
    await page.waitForFunction(
      () => (window as unknown as Partial<ILabWindow>).jupyterapp?.commands !== undefined,
      null,
      {
        timeout: 60_000,
      },
    );
    await cell(0).waitFor({ timeout: 60_000 });
    await expect.poll(() => lineOf(0).getAttribute('data-phase'), { timeout: 30_000 }).toBe('done');
    expect(await lineSitsUnderInput(0)).toBe(true);
    expect(await lineSitsUnderInput(2)).toBe(true);
    await page.waitForFunction(
      () =>
        (
          window as unknown as {
            jupyterapp: {
              shell: { currentWidget?: { sessionContext?: { session?: { kernel?: { status: string } } } } };
            };
          }
        ).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle',
      null,
      { timeout: 90_000 },
    );
    await openPanel();
    await expect
      .poll(() => panel().locator('.jp-pnav-RunsTable tbody tr[data-run-id]').count(), { timeout: 30_000 })
      .toBe(2);
  });

  it('exports CSV for both records and one BoAmps report per record, named after the notebook', async () => {
    const save = async (download: Download) => {
      const file = join(SHOTS, '..', download.suggestedFilename());
      await download.saveAs(file);
      return file;
    };
    const [csv] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      panel().locator('button[data-command="pnav-lab:export-csv"]').click(),
    ]);
    expect(csv.suggestedFilename()).toBe('demo-mixed-training-inference.csv');
    const lines = readFileSync(await save(csv), 'utf8')
      .trim()
      .split(/\r?\n/);
    expect(lines[0].startsWith('timestamp,type_process,model_id,ref,duration,emissions')).toBe(true);
    expect(
      lines
        .map(line => line.split(',')[1])
        .slice(1)
        .sort(),
    ).toEqual(['inference', 'training']);
    const downloads: Download[] = [];
    page.on('download', d => downloads.push(d));
    await panel().locator('button[data-command="pnav-lab:export-boamps"]').click();
    await dialog().locator('.jp-pnav-RecordChoice').waitFor();
    expect(await dialog().locator('.jp-pnav-Record').allTextContents()).toEqual([
      expect.stringMatching(/^training record: 1 run\(s\) — \[\d+\] import time, pnav_lab$/),
      expect.stringMatching(/^inference record: 1 run\(s\) — \[\d+\] predict$/),
    ]);
    await accept();
    await expect.poll(() => downloads.length, { timeout: 30_000 }).toBe(2);
    expect(downloads.map(d => d.suggestedFilename()).sort()).toEqual([
      'demo-mixed-inference.boamps.json',
      'demo-mixed-training.boamps.json',
    ]);
    for (const download of downloads) {
      const report = JSON.parse(readFileSync(await save(download), 'utf8'));
      expect(report.header).toBeDefined();
    }
  });

  it('keeps the dialog open with the reason under the field, then reports a token the server refuses', async () => {
    const form = await fillUpload('not a token', `${mock.url}api/v1/emissions`, { training: true, inference: false });
    await accept();
    await expect
      .poll(() => form.locator('.jp-pnav-FieldError').first().textContent())
      .toBe('The token must be a 64-character hexadecimal string.');
    expect(await form.locator('input[name="modelId"]').inputValue()).toBe(MODEL_ID);
    expect(await form.locator('input[name="token"]').getAttribute('type')).toBe('password');
    await form.locator('input[name="token"]').fill(WRONG_TOKEN);
    await form.locator('.jp-pnav-PreviewButton').click();
    const preview = form.locator('.jp-pnav-PreviewTable');
    await expect
      .poll(() => preview.locator('tr[data-key="energy_consumed"]').textContent(), { timeout: 20_000 })
      .toMatch(/^Energy consumed[\d.,]+ (mJ|J|kJ|MJ) \([\d.e-]+ kWh\)$/);
    expect(await preview.locator('tr[data-key="model_id"] td').textContent()).toBe(MODEL_ID);
    await page.screenshot({ path: join(SHOTS, 'upload-dialog.png') });
    await accept();
    await dialog().waitFor({ state: 'detached', timeout: 20_000 });
    await expect.poll(() => uploadRow('failed').count(), { timeout: 60_000 }).toBe(1);
    expect(await uploadRow('failed').locator('.jp-pnav-Upload-reason').textContent()).toMatch(
      /^The PNAV server at 127\.0\.0\.1:\d+ refused the token \(HTTP 401\)\. Check the token and send again\.$/,
    );
    const refused = page.locator('.Toastify__toast', { hasText: 'token refused (HTTP 401)' });
    await expect.poll(() => refused.count()).toBe(1);
    // Send again from the notification, with the right token: the same record, now delivered.
    await refused.getByRole('button', { name: 'Send again…' }).click();
    await dialog().locator('input[type="password"]').fill(TOKEN);
    await accept();
    await expect.poll(() => uploadRow('sent').count(), { timeout: 60_000 }).toBe(1);
    const { received } = (await mock.received()) as { received: { status: number }[] };
    expect(received.map(r => r.status)).toEqual([401, 201]);
  });

  it('says the record was already sent, and sends it again only when asked', async () => {
    await fillUpload(TOKEN, `${mock.url}api/v1/emissions`, { training: true, inference: false });
    await accept();
    const duplicate = dialog().locator('.jp-pnav-Duplicate');
    await duplicate.waitFor({ timeout: 20_000 });
    expect(await duplicate.locator('p').textContent()).toMatch(
      /^This training record was already sent on .+ \(sent\)\.$/,
    );
    await duplicate.locator('.jp-pnav-SendAgain').click();
    await dialog().waitFor({ state: 'detached', timeout: 20_000 });
    await expect.poll(() => uploadRow('sent').count(), { timeout: 60_000 }).toBe(2);
  });

  it('says an unreachable endpoint in words, retries, and lets the user cancel', async () => {
    await fillUpload(TOKEN, 'http://127.0.0.1:9/api/v1/emissions', { training: false, inference: true });
    await accept();
    await dialog().waitFor({ state: 'detached', timeout: 20_000 });
    const retrying = uploadRow('retrying');
    await expect.poll(() => retrying.count(), { timeout: 60_000 }).toBe(1);
    expect(await retrying.locator('.jp-pnav-Upload-reason').textContent()).toBe(
      'Nothing answers at 127.0.0.1:9 (connection refused). Check the endpoint URL, or that the server is up.',
    );
    const toast = page.locator('.Toastify__toast', { hasText: '127.0.0.1:9: connection refused' });
    await expect.poll(() => toast.count()).toBe(1);
    await toast.getByRole('button', { name: 'Cancel' }).click();
    await expect
      .poll(() => panel().locator('.jp-pnav-Upload-reason', { hasText: 'Cancelled before it was sent.' }).count(), {
        timeout: 30_000,
      })
      .toBe(1);
  });

  it('retries on demand when the server asked to wait', async () => {
    await mock.control({ failNext: 1, status: 503, retryAfterS: 3600 });
    await fillUpload(TOKEN, `${mock.url}api/v1/emissions`, { training: false, inference: true });
    await accept();
    await dialog().waitFor({ state: 'detached', timeout: 20_000 });
    const waiting = page.locator('.Toastify__toast', { hasText: 'HTTP 503' });
    await expect.poll(() => waiting.count(), { timeout: 60_000 }).toBe(1);
    expect(await waiting.textContent()).toMatch(/Next try at/);
    await waiting.getByRole('button', { name: 'Retry now' }).click();
    await expect.poll(() => uploadRow('sent').count(), { timeout: 60_000 }).toBe(3);
    await expect
      .poll(() => page.locator('.Toastify__toast', { hasText: 'The inference record was sent' }).count())
      .toBe(1);
  });

  for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
    it(`passes axe-core (WCAG 2 A/AA, contrast) in ${theme}: panel, cell lines, status bar, upload dialog`, async () => {
      await command('apputils:change-theme', { theme });
      await expect
        .poll(() => page.evaluate(() => document.body.dataset.jpThemeLight))
        .toBe(theme.endsWith('Light') ? 'true' : 'false');
      await page.waitForTimeout(500);
      const slug = theme.endsWith('Light') ? 'light' : 'dark';
      // Every notification of the uploads above closes by itself (none is an unanswered error).
      await expect.poll(() => page.locator('.Toastify__toast').allTextContents(), { timeout: 30_000 }).toEqual([]);
      await openPanel();
      const rows = panel().locator('.jp-pnav-RunsTable tbody tr[data-run-id]');
      await rows.nth(1).click();
      await panel().locator('.jp-pnav-Epochs').waitFor();
      for (const where of ['#pnav-lab-panel', '.jp-pnav-CellLine', '.jp-pnav-StatusItem']) {
        expect(await axe(where)).toEqual([]);
        expect(await lowContrast(where)).toEqual([]);
      }
      // Keyboard: arrows move between rows, with a visible focus ring.
      await rows.nth(0).focus();
      await page.keyboard.press('ArrowDown');
      expect(await rows.nth(1).evaluate(node => getComputedStyle(node).outlineStyle)).toBe('solid');
      for (const width of [250, 600]) {
        const measured = await panelWidth(width);
        expect(Math.abs(measured - width)).toBeLessThan(40);
        await panel().screenshot({ path: join(SHOTS, `panel-${width}px-${slug}.png`) });
      }
      await page.screenshot({ path: join(SHOTS, `lab-${slug}.png`) });
      await panelWidth(250);
      await fillUpload(TOKEN, `${mock.url}api/v1/emissions`, { training: true, inference: true });
      await accept();
      await dialog().locator('.jp-pnav-Duplicate').first().waitFor({ timeout: 20_000 });
      expect(await axe('.jp-Dialog .jp-Dialog-content')).toEqual([]);
      expect(await lowContrast('.jp-Dialog .jp-Dialog-content')).toEqual([]);
      await page.screenshot({ path: join(SHOTS, `upload-duplicate-${slug}.png`) });
      await dialog().locator('.jp-mod-reject', { hasText: 'Cancel' }).last().click();
      await dialog().waitFor({ state: 'detached' });
    });
  }

  it('keeps the token out of the saved notebook and of the server log', async () => {
    await command('docmanager:save');
    const saved = readFileSync(join(lab.dirs.root, NOTEBOOK), 'utf8');
    expect(saved).not.toContain(TOKEN);
    expect(saved).not.toContain(WRONG_TOKEN);
    expect(lab.output()).not.toContain(TOKEN);
  });
});
