/**
 * The JSON report of `pnav measure`: per cell its status and run figures, the totals, the budgets
 * and why execution stopped. Raw SI numbers with units in the names; cell outputs are left out
 * (they belong in the executed notebook).
 */
import { cellLocation } from './location.js';
import type { MeasureOutcome } from './runner.js';

export const JSON_REPORT_VERSION = 1;

export function jsonReport(outcome: MeasureOutcome) {
  const { status } = outcome;
  return {
    version: JSON_REPORT_VERSION,
    tool: `pnav measure ${status.version}`,
    notebookPath: outcome.notebookPath,
    startedAt: outcome.startedAt,
    endedAt: outcome.endedAt,
    exitCode: outcome.exitCode,
    stopReason: outcome.stopReason,
    kernel: outcome.kernel,
    jupyter: outcome.jupyter,
    sidecar: {
      source: outcome.sidecarSource,
      version: status.version,
      host: status.host,
      user: status.user,
      scope: status.scope,
      pue: status.pue,
      /** The location the runs used (each cell names its own too); `locationMixed` when they differ. */
      location: outcome.location.location,
      locationMixed: outcome.location.mixed,
      /** What a run that names no country gets from this sidecar. */
      defaultLocation: status.location,
      sources: status.sources
        .filter(source => source.available)
        .map(({ id, component, method, measured }) => ({ id, component, method, measured })),
      hardware: status.hardware,
    },
    budgets: { ...outcome.budgets, breaches: outcome.breaches },
    totals: outcome.totals,
    cells: outcome.results.map(result => ({
      number: result.number,
      index: result.index,
      cellId: result.cellId,
      firstLine: result.firstLine,
      measuredBy: result.ownMagic ? 'notebook %%pnav' : 'pnav measure',
      status: result.status,
      executionCount: result.executionCount,
      wallS: result.wallS,
      error: result.error && { ename: result.error.ename, evalue: result.error.evalue },
      note: result.note,
      location: result.run ? cellLocation(result.run.location) : null,
      run: result.summary,
    })),
    warnings: outcome.warnings,
  };
}
