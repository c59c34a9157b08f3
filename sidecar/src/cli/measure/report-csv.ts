/**
 * The PNAV-format CSV of a measured notebook: calculadorapnav's 40 columns, one row per measured
 * cell that ran to its end, built by the same record builder as the sidecar's own CSV files. A failed
 * or interrupted cell has no row (the columns carry no status; calculadorapnav records nothing for a
 * failed run): the JSON and HTML reports show it with its status.
 */
import { PNAV_HEADER } from '../../outputs/csv/columns.js';
import { csvLine } from '../../outputs/csv/csv-table.js';
import { csvCells } from '../../outputs/py-format.js';
import { runToRecord } from '../../outputs/record.js';
import type { MeasureOutcome } from './runner.js';

export function csvReport(outcome: MeasureOutcome): string {
  const rows = outcome.results.flatMap(result =>
    result.run?.status === 'ok' ? [csvLine(csvCells(runToRecord(result.run, outcome.status.hardware)))] : [],
  );
  return `${[PNAV_HEADER, ...rows].join('\n')}\n`;
}
