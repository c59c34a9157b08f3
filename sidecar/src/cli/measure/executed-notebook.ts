/**
 * The executed notebook: the input notebook with each run cell's outputs and execution count, and
 * the `pnav` cell metadata the lab extension reads to show the cell's figures without a sidecar.
 */
import type { RunSummary } from './cell-result.js';
import type { Notebook } from './notebook.js';
import type { MeasureOutcome } from './runner.js';

/** `metadata.pnav` of a measured cell: a compact summary, never a token or a path outside the notebook. */
export interface PnavCellMetadata {
  runId: string;
  energyJ: number;
  emissionsG: number;
  durationS: number;
  quality: RunSummary['quality'];
  methods: Partial<Record<string, string>>;
}

export function pnavCellMetadata(summary: RunSummary): PnavCellMetadata {
  return {
    runId: summary.runId,
    energyJ: summary.energyJ,
    emissionsG: summary.emissionsG,
    durationS: summary.durationS,
    quality: summary.quality,
    methods: Object.fromEntries(Object.entries(summary.methods).map(([component, m]) => [component, m!.method])),
  };
}

export function executedNotebook(outcome: MeasureOutcome): Notebook {
  const notebook = structuredClone(outcome.notebook);
  for (const result of outcome.results) {
    if (result.status === 'skipped' || result.status === 'not-run') continue;
    const cell = notebook.cells[result.index]!;
    cell.outputs = result.outputs;
    cell.execution_count = result.executionCount;
    if (result.summary) cell.metadata = { ...cell.metadata, pnav: pnavCellMetadata(result.summary) };
  }
  return notebook;
}
