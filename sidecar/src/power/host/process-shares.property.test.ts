/**
 * Property: over one window, the energies attributed to every kernel on the machine never add up to
 * more than the machine's, per component (CPU by CPU time, GPU by compute-app memory, RAM by resident
 * memory), and every share stays in 0..1. Kernels' process trees are disjoint, as on a real machine.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EnergyBreakdown } from '../../api/schemas.js';
import { attributeWindow, type GpuApp, type KernelSnapshot } from './process-shares.js';

const component = (energyJ: number) => ({
  energyJ,
  powerW: 0,
  method: 'rapl' as const,
  measured: true,
  included: true,
});

const machineArb = fc.record({
  cpuJ: fc.double({ min: 0, max: 1e6, noNaN: true }),
  ramJ: fc.double({ min: 0, max: 1e5, noNaN: true }),
  gpuJ: fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 8 }),
  busyTicks: fc.integer({ min: 0, max: 1e7 }),
  usedBytes: fc.integer({ min: 0, max: 2 ** 41 }),
  // Per kernel: its weight of CPU ticks and memory (scaled so the kernels fit in the machine).
  kernels: fc.array(
    fc.record({ cpu: fc.double({ min: 0, max: 1, noNaN: true }), mem: fc.double({ min: 0, max: 1, noNaN: true }) }),
    {
      minLength: 1,
      maxLength: 6,
    },
  ),
  // GPU processes: owner (kernel index, or -1 for another user) and memory in MiB.
  apps: fc.array(
    fc.record({
      owner: fc.integer({ min: -1, max: 5 }),
      gpu: fc.integer({ min: 0, max: 7 }),
      mib: fc.option(fc.integer({ min: 0, max: 80_000 })),
    }),
    {
      maxLength: 30,
    },
  ),
});

describe('attribution across kernels', () => {
  it('never exceeds the whole, per component', () => {
    fc.assert(
      fc.property(machineArb, m => {
        const energy: EnergyBreakdown = {
          cpu: component(m.cpuJ),
          gpu: { ...component(m.gpuJ.reduce((a, b) => a + b, 0)), method: 'nvml' },
          ram: { ...component(m.ramJ), method: 'ram-model', measured: false },
        };
        const gpuWindowJ = new Map(m.gpuJ.map((j, i) => [i, j]));
        const cpuWeight = m.kernels.reduce((a, k) => a + k.cpu, 0) || 1;
        const memWeight = m.kernels.reduce((a, k) => a + k.mem, 0) || 1;
        const apps: GpuApp[] = m.apps.map((a, i) => ({
          pid: a.owner >= 0 && a.owner < m.kernels.length ? 1000 * (a.owner + 1) + i : 900_000 + i,
          gpuIndex: a.gpu,
          usedMemoryMiB: a.mib,
        }));
        const sums = { cpu: 0, gpu: 0, ram: 0 };
        m.kernels.forEach((k, i) => {
          const pids = [1000 * (i + 1), ...apps.filter(a => Math.floor(a.pid / 1000) === i + 1).map(a => a.pid)];
          const start: KernelSnapshot = {
            cpu: { treeTicks: 0, machineBusyTicks: 0 },
            residentBytes: Math.floor((k.mem / memWeight) * m.usedBytes),
            residentKind: 'PSS',
            usedMemoryBytes: m.usedBytes,
            pids,
          };
          const end: KernelSnapshot = {
            ...start,
            cpu: { treeTicks: Math.floor((k.cpu / cpuWeight) * m.busyTicks), machineBusyTicks: m.busyTicks },
          };
          const shares = attributeWindow({ energy, gpuWindowJ, start, end, gpu: { apps, error: null, ageS: 0 } });
          for (const c of ['cpu', 'gpu', 'ram'] as const) {
            expect(shares[c].share).toBeGreaterThanOrEqual(0);
            expect(shares[c].share).toBeLessThanOrEqual(1);
            sums[c] += shares[c].energyJ;
          }
        });
        for (const c of ['cpu', 'gpu', 'ram'] as const)
          expect(sums[c]).toBeLessThanOrEqual(energy[c].energyJ * (1 + 1e-9) + 1e-9);
      }),
      { numRuns: 300 },
    );
  });
});
