import { describe, expect, it } from 'vitest';
import type { Run, Status } from '../../api/schemas.js';
import { resolveLocation } from '../../carbon/index.js';
import type { CellResult } from './cell-result.js';
import { jsonReport } from './report-json.js';
import type { MeasureOutcome } from './runner.js';

describe('jsonReport locations', () => {
  it("reports the runs' location, each cell's, and the sidecar default apart", () => {
    const world = resolveLocation({ country: 'DEU' });
    const spain = resolveLocation({ country: 'ESP' });
    const measured = {
      number: 1,
      run: { location: spain } as Run,
      summary: null,
      error: null,
    } as unknown as CellResult;
    const skipped = { number: 2, run: null, summary: null, error: null } as unknown as CellResult;
    const outcome = {
      status: { version: '0', location: world, sources: [] } as unknown as Status,
      location: { location: spain, mixed: false },
      results: [measured, skipped],
    } as unknown as MeasureOutcome;
    const report = jsonReport(outcome);
    expect(report.sidecar.location.countryIso3).toBe('ESP');
    expect(report.sidecar.locationMixed).toBe(false);
    expect(report.sidecar.defaultLocation.countryIso3).toBe('DEU');
    expect(report.cells.map(c => c.location?.countryIso3 ?? null)).toEqual(['ESP', null]);
    expect(report.cells[0]!.location).toMatchObject({ countrySource: 'run', intensityGPerKWh: spain.intensityGPerKWh });
  });
});
