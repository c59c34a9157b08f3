// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { makeRun } from '../../test-support/fixtures';
import { RunsModel } from '../runsModel';
import { plainTrans } from '../trans';
import { ROW_HEIGHT_PX, RunsTable } from './runsTable';

function setup(): { model: RunsModel; table: RunsTable } {
  const model = new RunsModel();
  model.setScope({ notebookPath: 'nb.ipynb', kernelId: 'k1' });
  return { model, table: new RunsTable(model, plainTrans) };
}

function rowTexts(table: RunsTable): string[][] {
  return [...table.node.querySelectorAll('tbody tr[data-run-id]')].map(row =>
    [...row.querySelectorAll('td')].slice(1).map(cell => cell.textContent ?? ''),
  );
}

describe('RunsTable', () => {
  it('renders label, execution count, status, duration, energy and CO2, newest first', () => {
    const { model, table } = setup();
    model.reset([
      makeRun('a', { label: 'first', startedAt: '2024-01-01T00:00:01Z', executionCount: 1 }),
      makeRun('b', { label: null, startedAt: '2024-01-01T00:00:02Z', executionCount: 2, status: 'open' }),
    ]);
    expect(rowTexts(table)).toEqual([
      ['b[2] · 1 s running', '12 J0.5 mg'],
      ['first[1] · 1 s', '12 J0.5 mg'],
    ]);
    expect(table.node.querySelector('.jp-pnav-Empty')?.hasAttribute('hidden')).toBe(true);
  });

  it('updates one row in place and inserts new runs at their position', () => {
    const { model, table } = setup();
    model.reset([makeRun('a', { startedAt: '2024-01-01T00:00:01Z' })]);
    const row = table.node.querySelector('tr[data-run-id="a"]');
    model.upsert(makeRun('a', { startedAt: '2024-01-01T00:00:01Z', facilityEnergyJ: 7200 }));
    expect(table.node.querySelector('tr[data-run-id="a"]')).toBe(row);
    expect(row?.querySelector('.jp-pnav-Energy')?.textContent).toBe('7.2 kJ');
    model.upsert(makeRun('c', { startedAt: '2024-01-01T00:00:05Z' }));
    expect(
      [...table.node.querySelectorAll('tbody tr[data-run-id]')].map(r => (r as HTMLElement).dataset.runId),
    ).toEqual(['c', 'a']);
  });

  it('emits the activated run on click and Enter, and tracks ticked runs', () => {
    const { model, table } = setup();
    model.reset([makeRun('a'), makeRun('b', { startedAt: '2024-01-02T00:00:00Z' })]);
    document.body.appendChild(table.node);
    const activated: string[] = [];
    table.activated.connect((_, id) => activated.push(id));
    const rowA = table.node.querySelector<HTMLElement>('tr[data-run-id="a"]')!;
    rowA.querySelectorAll('td')[1].dispatchEvent(new MouseEvent('click', { bubbles: true }));
    rowA.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    expect(activated).toEqual(['a', 'a']);
    const box = rowA.querySelector<HTMLInputElement>('input')!;
    box.click();
    expect(table.selectedIds).toEqual(['a']);
    expect(activated).toEqual(['a', 'a']);
    table.node.remove();
  });

  it('renders only the rows in view of 1,000 runs, with spacers keeping the scroll height', () => {
    const { model, table } = setup();
    const runs = Array.from({ length: 1000 }, (_, i) =>
      makeRun(`r${i}`, { startedAt: new Date(1_700_000_000_000 + i * 1000).toISOString() }),
    );
    model.reset(runs);
    const rendered = table.node.querySelectorAll('tbody tr[data-run-id]');
    // No layout in jsdom: a 600 px view is assumed, 18 rows + 10 of margin.
    expect(rendered).toHaveLength(Math.ceil(600 / ROW_HEIGHT_PX) + 10);
    expect((rendered[0] as HTMLElement).dataset.runId).toBe('r999');
    const spacers = table.node.querySelectorAll<HTMLElement>('tbody tr.jp-pnav-Spacer');
    expect(spacers[0].style.height).toBe('0px');
    expect(spacers[1].style.height).toBe(`${(1000 - rendered.length) * ROW_HEIGHT_PX}px`);
    expect(table.node.dataset.rows).toBe('1000');
    expect(Number(table.node.dataset.renderMs)).toBeGreaterThan(0);
  });

  it('moves the window when scrolled', async () => {
    const { model, table } = setup();
    model.reset(Array.from({ length: 1000 }, (_, i) => makeRun(`r${String(i).padStart(4, '0')}`)));
    table.node.scrollTop = 500 * ROW_HEIGHT_PX;
    table.node.dispatchEvent(new Event('scroll'));
    await new Promise(resolve => requestAnimationFrame(resolve));
    const first = table.node.querySelector<HTMLElement>('tbody tr[data-run-id]');
    expect(first?.getAttribute('aria-rowindex')).toBe(String(490 + 2));
  });
});
