/** Writes the reports `pnav measure` was asked for; each file is written whole or not at all. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { executedNotebook } from './executed-notebook.js';
import { csvReport } from './report-csv.js';
import { htmlReport } from './report-html.js';
import { jsonReport } from './report-json.js';
import type { MeasureOutcome } from './runner.js';

export interface OutputPaths {
  json?: string;
  csv?: string;
  html?: string;
  executed?: string;
}

async function writeWhole(file: string, text: string): Promise<void> {
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFileAtomic(target, text);
}

/** Returns the paths written. */
export async function writeOutputs(outcome: MeasureOutcome, paths: OutputPaths): Promise<string[]> {
  const jobs: [string | undefined, () => string][] = [
    [paths.json, () => `${JSON.stringify(jsonReport(outcome), null, 2)}\n`],
    [paths.csv, () => csvReport(outcome)],
    [paths.html, () => htmlReport(outcome)],
    // nbformat's own layout: one-space indent, a final newline.
    [paths.executed, () => `${JSON.stringify(executedNotebook(outcome), null, 1)}\n`],
  ];
  const written: string[] = [];
  for (const [file, render] of jobs) {
    if (!file) continue;
    await writeWhole(file, render());
    written.push(file);
  }
  return written;
}
