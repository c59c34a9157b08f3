import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeRoot, procStat } from '../../../test-support/fake-sysfs.js';
import { countProcStatCpus } from '../host/hardware.js';
import type { Scope } from '../host/scope.js';
import { CpuEstimateSource, loadCurve, parseProcStat } from './cpu-estimate.js';

const machine: Scope = {
  kind: 'machine',
  detail: 'whole machine',
  cpuFraction: 1,
  allowedCpus: 4,
  totalCpus: 4,
  memLimitBytes: null,
  cgroupDir: null,
};

let fake: FakeRoot;
beforeEach(() => {
  fake = new FakeRoot();
});
afterEach(() => fake.cleanup());

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('loadCurve (CodeCarbon machine curve 0.1 + 0.9·u³)', () => {
  it('has a 10 % floor, full TDP at 100 %, and is cubic in between', () => {
    expect(loadCurve(0)).toBe(0.1);
    expect(loadCurve(1)).toBe(1);
    expect(loadCurve(0.5)).toBeCloseTo(0.2125, 12);
    expect(loadCurve(2)).toBe(1);
  });
});

describe('parseProcStat', () => {
  it('counts busy as total minus idle and iowait, without guest double counting', () => {
    const s = parseProcStat('cpu  100 10 50 800 40 5 5 0 30 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n');
    expect(s).toEqual({ busy: 170, total: 1010 });
    expect(countProcStatCpus(procStat(8, 0, 0))).toBe(8);
  });
});

describe('CpuEstimateSource', () => {
  it('integrates TDP × curve(u) from /proc/stat deltas, labelled tdp-load and not measured', async () => {
    fake.write('proc/stat', procStat(4, 0, 0));
    const src = new CpuEstimateSource({
      procRoot: fake.procRoot,
      tdpW: 100,
      sockets: 1,
      tdpSource: '--cpu-tdp',
      scope: machine,
      minWindowMs: 50,
      tickMs: 60_000,
    });
    expect(src.method).toBe('tdp-load');
    expect(src.measured).toBe(false);
    const probe = await src.probe();
    expect(probe.available).toBe(true);
    expect(probe.detail).toContain('TDP 100 W (--cpu-tdp) × (0.1 + 0.9·u³)');
    await src.start();
    const t0 = src.read();
    fake.write('proc/stat', procStat(4, 500, 500)); // 50 % busy
    await sleep(120);
    const t1 = src.read();
    expect(src.lastUtilisation()).toBeCloseTo(0.5, 12);
    expect(t1.powerW).toBeCloseTo(21.25, 9);
    expect(t1.energyJ - t0.energyJ).toBeCloseTo((21.25 * (t1.monoMs - t0.monoMs)) / 1000, 9);
    fake.write('proc/stat', procStat(4, 1500, 500)); // next window 100 % busy
    await sleep(60);
    expect(src.read().powerW).toBeCloseTo(100, 9);
    await src.stop();
  });

  it('reuses the last utilisation for windows shorter than the minimum (never blocks to wait)', async () => {
    fake.write('proc/stat', procStat(4, 0, 0));
    const src = new CpuEstimateSource({
      procRoot: fake.procRoot,
      tdpW: 100,
      sockets: 1,
      tdpSource: 't',
      scope: machine,
      minWindowMs: 10_000,
      tickMs: 60_000,
    });
    await src.start();
    fake.write('proc/stat', procStat(4, 1000, 0));
    const started = performance.now();
    const r = src.read();
    expect(performance.now() - started).toBeLessThan(50);
    expect(r.powerW).toBe(10); // idle floor: no utilisation figure yet
    await src.stop();
  });

  it('scales by sockets and by the scope share, and reads utilisation from the cgroup cpu.stat', async () => {
    fake.write('proc/stat', procStat(64, 0, 0));
    fake.write('sys/fs/cgroup/pod/cpu.stat', 'usage_usec 0\nuser_usec 0\n');
    const scope: Scope = {
      kind: 'cgroup',
      detail: 'pod',
      cpuFraction: 2 / 64,
      allowedCpus: 2,
      totalCpus: 64,
      memLimitBytes: null,
      cgroupDir: fake.path('sys/fs/cgroup/pod'),
    };
    const src = new CpuEstimateSource({
      procRoot: fake.procRoot,
      tdpW: 160,
      sockets: 2,
      tdpSource: 't',
      scope,
      minWindowMs: 50,
      tickMs: 60_000,
    });
    expect(src.scaledTdpW).toBe(10);
    expect((await src.probe()).detail).toContain('utilisation from cgroup cpu.stat');
    await src.start();
    const t0 = performance.now();
    await sleep(100);
    // Both allowed CPUs busy for the whole window (a little more than elapsed: clamped to 1).
    const usage = Math.ceil((performance.now() - t0 + 50) * 1000 * 2);
    fake.write('sys/fs/cgroup/pod/cpu.stat', `usage_usec ${usage}\n`);
    const r = src.read();
    expect(src.lastUtilisation()).toBe(1);
    expect(r.powerW).toBeCloseTo(10, 9);
    await src.stop();
  });

  it('is unavailable when /proc/stat cannot be read', async () => {
    const src = new CpuEstimateSource({ procRoot: fake.procRoot, tdpW: 1, sockets: 1, tdpSource: 't', scope: machine });
    const probe = await src.probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/^cannot read CPU utilisation from .*\/proc\/stat: ENOENT/);
  });
});
