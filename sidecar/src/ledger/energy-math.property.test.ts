/**
 * Property tests of the energy arithmetic against a simple reference model:
 * - RAPL wraparound: the counter's accumulated energy equals the true sum of increments, whatever
 *   the (non power-of-two) range and however many wraps, as long as no interval spans a full range;
 * - overlapping runs and epochs inside runs: every window's energy is the counter delta between its
 *   open and close readings, per component, restricted to its GPU ids; totals, PUE and emissions follow;
 * - a crash (a new ledger over the same store) turns open runs into `interrupted` ones carrying the
 *   figures of their last checkpoint; every epoch is stored as it opens and closes.
 * The power sources are the hardware boundary and the only fakes: their cumulative counters are
 * driven by the generated operations.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Component, Run } from '../api/schemas.js';
import { emissionsG, resolveLocation } from '../carbon/index.js';
import { RaplCounter } from '../power/cpu/rapl-counter.js';
import { Meter } from '../power/meter.js';
import type { PowerSource, SourceReading } from '../power/source.js';
import { OpenRunCheckpoints } from '../store/open-run-checkpoints.js';
import { RunStore } from '../store/run-store.js';
import { Ledger } from './ledger.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-energy-prop-'));
let tmpCount = 0;
const freshDir = () => fs.mkdtempSync(path.join(tmpRoot, `${tmpCount++}-`));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** Relative closeness for sums of floats. */
function expectClose(actual: number, expected: number, what: string): void {
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  if (Math.abs(actual - expected) > tol) throw new Error(`${what}: got ${actual}, reference ${expected}`);
}

describe('RAPL wraparound', () => {
  it('accumulates the true energy across any number of wraps', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 262_143_328_850 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 60 }),
        (maxRangeUj, startFrac, stepFracs) => {
          const dir = freshDir();
          const file = path.join(dir, 'energy_uj');
          let raw = Math.floor(startFrac * maxRangeUj);
          fs.writeFileSync(file, `${raw}\n`);
          const counter = new RaplCounter(file, maxRangeUj);
          expect(counter.update()).toBe(0);
          let trueUj = 0;
          let expectedWraps = 0;
          for (const frac of stepFracs) {
            // Increments strictly below one full range: the sampler reads often enough for that.
            const stepUj = Math.min(Math.floor(frac * maxRangeUj), maxRangeUj - 1);
            trueUj += stepUj;
            if (raw + stepUj >= maxRangeUj) expectedWraps++;
            raw = (raw + stepUj) % maxRangeUj;
            fs.writeFileSync(file, `${raw}\n`);
            expectClose(counter.update(), trueUj / 1e6, 'accumulated J');
          }
          expect(counter.wraps).toBe(expectedWraps);
          counter.close();
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000); // 200 cases of up to 60 file writes each: slow on a loaded machine, not wrong
});

// ------------------------------------------------------------------ the ledger against a model

type Counters = { cpu: number; ram: number; gpu0: number; gpu1: number };

/** Sources whose cumulative counters the test drives. */
function drivenSources(c: Counters): PowerSource[] {
  const mk = (component: Component, method: 'tdp-load' | 'ram-model' | 'nvml', read: () => SourceReading) =>
    ({
      id: `driven-${component}`,
      component,
      method,
      measured: method === 'nvml',
      probe: async () => ({ available: true }),
      start: async () => {},
      stop: async () => {},
      devices: () => [],
      read,
    }) satisfies PowerSource;
  const now = () => performance.now();
  return [
    mk('cpu', 'tdp-load', () => ({ monoMs: now(), energyJ: c.cpu, powerW: null, devices: [] })),
    mk('ram', 'ram-model', () => ({ monoMs: now(), energyJ: c.ram, powerW: null, devices: [] })),
    mk('gpu', 'nvml', () => ({
      monoMs: now(),
      energyJ: c.gpu0 + c.gpu1,
      powerW: null,
      devices: [
        { deviceId: 'gpu0', energyJ: c.gpu0, powerW: null },
        { deviceId: 'gpu1', energyJ: c.gpu1, powerW: null },
      ],
    })),
  ];
}

type Op =
  | { t: 'advance'; cpu: number; ram: number; gpu0: number; gpu1: number }
  | { t: 'open'; components: Component[]; gpuIds: number[] | null; pue: number }
  | { t: 'close' | 'epochOpen' | 'epochClose' | 'checkpoint'; pick: number };

const energyArb = fc.double({ min: 0, max: 5_000, noNaN: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      cpu: energyArb,
      ram: energyArb,
      gpu0: energyArb,
      gpu1: energyArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('open' as const),
      components: fc.subarray(['cpu', 'gpu', 'ram'] as Component[], { minLength: 1 }),
      gpuIds: fc.option(fc.subarray([0, 1]), { nil: null }),
      pue: fc.double({ min: 1, max: 3, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('epochOpen' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('epochClose' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('checkpoint' as const), pick: fc.nat() }) },
);

interface ModelWindow {
  open: Counters;
  close: Counters | null;
  /** Counters at the last checkpoint that saw this window open (what survives a crash). */
  checkpoint: Counters | null;
}
interface ModelRun extends ModelWindow {
  id: string;
  components: Component[];
  gpuIds: number[] | null;
  pue: number;
  epochs: (ModelWindow & { index: number })[];
  openEpoch: number | null;
}

/** What survives a crash: totals at the last checkpoint, closed epochs exact, the open one at the last checkpoint. */
function storedView(r: ModelRun): { end: Counters; epochs: { index: number; closed: boolean; end: Counters }[] } {
  return {
    end: r.checkpoint ?? r.open,
    epochs: r.epochs.map(e => ({ index: e.index, closed: e.close !== null, end: e.close ?? e.checkpoint ?? e.open })),
  };
}

/** The reference: a component's energy in a window is the plain difference of the counters. */
function modelEnergy(run: ModelRun, from: Counters, to: Counters): Record<Component, number> {
  const gpu = (c: Counters) =>
    run.gpuIds ? run.gpuIds.reduce((s, i) => s + (i === 0 ? c.gpu0 : c.gpu1), 0) : c.gpu0 + c.gpu1;
  const inc = (k: Component) => run.components.includes(k);
  return {
    cpu: inc('cpu') ? to.cpu - from.cpu : 0,
    ram: inc('ram') ? to.ram - from.ram : 0,
    gpu: inc('gpu') ? gpu(to) - gpu(from) : 0,
  };
}

function expectWindow(
  what: string,
  actual: Pick<Run, 'energy' | 'energyJ' | 'facilityEnergyJ' | 'emissionsG'>,
  run: ModelRun,
  from: Counters,
  to: Counters,
  intensity: number,
): void {
  const e = modelEnergy(run, from, to);
  let total = 0;
  for (const c of ['cpu', 'gpu', 'ram'] as Component[]) {
    expectClose(actual.energy[c].energyJ, e[c], `${what} ${c} energyJ`);
    expect(actual.energy[c].included).toBe(run.components.includes(c));
    total += e[c];
  }
  expectClose(actual.energyJ, total, `${what} energyJ`);
  expectClose(actual.facilityEnergyJ, total * run.pue, `${what} facilityEnergyJ`);
  expectClose(actual.emissionsG, ((total * run.pue) / 3.6e6) * intensity, `${what} emissionsG`);
}

async function newLedger(dir: string, counters: Counters): Promise<{ ledger: Ledger; store: RunStore }> {
  const store = new RunStore({ dataDir: dir });
  const ledger = new Ledger({
    store,
    meter: new Meter(drivenSources(counters)),
    carbon: { resolveLocation, emissionsG },
    scope: { kind: 'machine', detail: 'property test' },
    procRoot: '/proc',
    defaults: { pue: 1, typeRam: 'DDR4' },
    checkpoints: new OpenRunCheckpoints({ dataDir: dir }),
  });
  await ledger.load();
  return { ledger, store };
}

describe('runs and epochs against the reference model', () => {
  it('every run and epoch window gets exactly its counter delta, even overlapping, and survives a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), fc.boolean(), async (ops, crash) => {
        const dir = freshDir();
        const counters: Counters = { cpu: 0, ram: 0, gpu0: 0, gpu1: 0 };
        const { ledger, store } = await newLedger(dir, counters);
        const model: ModelRun[] = [];
        const openRuns = () => model.filter(r => r.close === null);
        let intensity = 0;

        for (const op of ops) {
          const snap = (): Counters => ({ ...counters });
          if (op.t === 'advance') {
            counters.cpu += op.cpu;
            counters.ram += op.ram;
            counters.gpu0 += op.gpu0;
            counters.gpu1 += op.gpu1;
          } else if (op.t === 'open') {
            const run = ledger.openRun({
              kind: 'manual',
              typeProcess: 'training',
              components: op.components,
              gpuIds: op.gpuIds ?? undefined,
              pue: op.pue,
              country: 'ESP',
            });
            intensity = run.location.intensityGPerKWh;
            const m: ModelRun = {
              id: run.id,
              components: op.components,
              gpuIds: op.gpuIds,
              pue: op.pue,
              open: snap(),
              close: null,
              checkpoint: null,
              epochs: [],
              openEpoch: null,
            };
            model.push(m);
          } else if (op.t === 'checkpoint') {
            ledger.checkpoint();
            for (const r of openRuns()) {
              r.checkpoint = snap();
              const e = r.epochs.find(x => x.index === r.openEpoch);
              if (e) e.checkpoint = snap();
            }
          } else {
            const open = openRuns();
            if (open.length === 0) continue;
            const r = open[op.pick % open.length]!;
            const current = r.epochs.find(x => x.index === r.openEpoch);
            if (op.t === 'close') {
              await ledger.closeRun(r.id, { status: 'ok' });
              r.close = snap();
              if (current) current.close = snap();
              r.openEpoch = null;
            } else if (op.t === 'epochOpen') {
              const epoch = ledger.openEpoch(r.id, {});
              if (current) current.close = snap(); // an open epoch ends where the next begins
              r.epochs.push({ index: epoch.index, open: snap(), close: null, checkpoint: null });
              r.openEpoch = epoch.index;
            } else if (op.t === 'epochClose' && current) {
              ledger.closeEpoch(r.id, current.index, {});
              current.close = snap();
              r.openEpoch = null;
            }
          }
        }

        let view = ledger;
        if (crash) {
          // kill -9: nothing more is written; a new ledger replays the store.
          const again = await newLedger(dir, counters);
          view = again.ledger;
          for (const r of openRuns()) {
            const got = view.get(r.id)!;
            expect(got.status).toBe('interrupted');
            const stored = storedView(r);
            expectWindow('interrupted run', got, r, r.open, stored.end, intensity);
            expect(got.epochs.map(e => e.index)).toEqual(stored.epochs.map(e => e.index));
            for (const e of stored.epochs) {
              const ge = got.epochs.find(x => x.index === e.index)!;
              const opened = r.epochs.find(x => x.index === e.index)!.open;
              expect(ge.status).toBe(e.closed ? 'ok' : 'interrupted');
              expectWindow(`epoch ${e.index}`, ge, r, opened, e.end, intensity);
            }
          }
          again.store.close();
        } else {
          for (const r of openRuns()) {
            await ledger.closeRun(r.id, { status: 'ok' });
            r.close = { ...counters };
            const e = r.epochs.find(x => x.index === r.openEpoch);
            if (e) e.close = { ...counters };
          }
        }

        for (const r of model.filter(m => m.close !== null)) {
          const got = view.get(r.id)!;
          expect(got.status).toBe('ok');
          expectWindow('run', got, r, r.open, r.close!, intensity);
          expect(got.epochs.map(e => e.index)).toEqual(r.epochs.map(e => e.index));
          let epochSum = 0;
          for (const e of r.epochs) {
            const ge = got.epochs.find(x => x.index === e.index)!;
            expectWindow(`epoch ${e.index}`, ge, r, e.open, e.close!, intensity);
            epochSum += ge.energyJ;
          }
          // Epochs never overlap inside a run, so together they never exceed it.
          expect(epochSum).toBeLessThanOrEqual(got.energyJ * (1 + 1e-9) + 1e-9);
        }
        store.close();
      }),
      { numRuns: 150 },
    );
  });
});
