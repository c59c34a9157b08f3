// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { RunsModel } from '../runsModel';
import { makeRun } from '../testing/fixtures';
import { plainTrans } from '../trans';
import { RunsTable } from './runsTable';

function setup(): { model: RunsModel; table: RunsTable } {
  const model = new RunsModel();
  model.setScope({ notebookPath: 'nb.ipynb', kernelId: 'k1' });
  return { model, table: new RunsTable(model, plainTrans) };
}

function rowTexts(table: RunsTable): string[][] {
  return [...table.node.querySelectorAll('tbody tr')].map(row =>
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
      ['b', '2', 'open', '1 s', '12 J', '0.0005 g CO₂e'],
      ['first', '1', 'ok', '1 s', '12 J', '0.0005 g CO₂e'],
    ]);
    expect(table.node.querySelector('.jp-pnav-Empty')?.hasAttribute('hidden')).toBe(true);
  });

  it('updates one row in place and inserts new runs at their position', () => {
    const { model, table } = setup();
    model.reset([makeRun('a', { startedAt: '2024-01-01T00:00:01Z' })]);
    const row = table.node.querySelector('tr[data-run-id="a"]');
    model.upsert(makeRun('a', { startedAt: '2024-01-01T00:00:01Z', facilityEnergyJ: 7200 }));
    expect(table.node.querySelector('tr[data-run-id="a"]')).toBe(row);
    expect(row?.querySelectorAll('td')[5].textContent).toBe('2 Wh');
    model.upsert(makeRun('c', { startedAt: '2024-01-01T00:00:05Z' }));
    expect([...table.node.querySelectorAll('tbody tr')].map(r => (r as HTMLElement).dataset.runId)).toEqual(['c', 'a']);
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

  it('renders 1,000 runs in one pass and records the time', () => {
    const { model, table } = setup();
    const runs = Array.from({ length: 1000 }, (_, i) =>
      makeRun(`r${i}`, { startedAt: new Date(1_700_000_000_000 + i * 1000).toISOString() }),
    );
    model.reset(runs);
    expect(table.node.querySelectorAll('tbody tr')).toHaveLength(1000);
    expect(table.node.dataset.rows).toBe('1000');
    expect(Number(table.node.dataset.renderMs)).toBeGreaterThan(0);
  });
});
