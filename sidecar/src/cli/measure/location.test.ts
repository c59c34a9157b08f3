import { describe, expect, it } from 'vitest';
import type { Run } from '../../api/schemas.js';
import { resolveLocation } from '../../carbon/index.js';
import type { CellResult } from './cell-result.js';
import { cellLocation, expectedLocation, runsLocation } from './location.js';

const world = resolveLocation({ country: 'DEU' }); // a sidecar default other than the runs'
const spain = resolveLocation({ country: 'ESP' });
const france = resolveLocation({ country: 'FRA' });

function cell(location: Run['location'] | null): CellResult {
  return { run: location ? ({ location } as Run) : null } as CellResult;
}

describe('expectedLocation', () => {
  it("is --country's location when given, else the sidecar's default", () => {
    expect(world.countryIso3).toBe('DEU');
    expect(expectedLocation(world, 'ESP')).toEqual(spain);
    expect(expectedLocation(world, undefined)).toBe(world);
  });
});

describe('runsLocation', () => {
  it('is the location the runs used, not the sidecar default', () => {
    expect(runsLocation([cell(spain), cell(null), cell(spain)], world)).toEqual({ location: spain, mixed: false });
  });

  it('says when the runs used several locations', () => {
    expect(runsLocation([cell(spain), cell(france)], world)).toEqual({ location: spain, mixed: true });
  });

  it('falls back to the expected location when no cell was measured', () => {
    expect(runsLocation([cell(null)], world)).toEqual({ location: world, mixed: false });
  });
});

describe('cellLocation', () => {
  it('keeps what the emissions were computed with', () => {
    expect(cellLocation(spain)).toEqual({
      countryIso3: 'ESP',
      countryName: 'Spain',
      countrySource: 'run',
      region: null,
      cloudProvider: null,
      cloudRegion: null,
      intensityGPerKWh: spain.intensityGPerKWh,
    });
  });
});
