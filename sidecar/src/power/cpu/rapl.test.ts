import { chmodSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AMD_RANGE_UJ, FakeRoot, INTEL_RANGE_UJ } from '../../../test-support/fake-sysfs.js';
import { runAsNobody } from '../../../test-support/run-as-nobody.js';
import { RAPL_UDEV_RULE, RaplDramSource, RaplPackageSource } from './rapl.js';
import { wrapPollPeriodMs } from './rapl-counter.js';
import { discoverRapl } from './rapl-domains.js';

let fake: FakeRoot;
beforeEach(() => {
  fake = new FakeRoot();
});
afterEach(() => fake.cleanup());

/** Two Intel sockets, each with core, uncore and dram subzones, plus psys and an MMIO duplicate. */
function twoSocketServer(): void {
  fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000_000 });
  fake.zone({ zone: 'intel-rapl:0:0', name: 'core', energyUj: 500_000 });
  fake.zone({ zone: 'intel-rapl:0:1', name: 'uncore', energyUj: 100_000 });
  fake.zone({ zone: 'intel-rapl:0:2', name: 'dram', energyUj: 300_000 });
  fake.zone({ zone: 'intel-rapl:1', name: 'package-1', energyUj: 2_000_000 });
  fake.zone({ zone: 'intel-rapl:1:0', name: 'core', energyUj: 700_000 });
  fake.zone({ zone: 'intel-rapl:1:1', name: 'dram', energyUj: 400_000 });
  fake.zone({ zone: 'intel-rapl:2', name: 'psys', energyUj: 9_000_000 });
  fake.zone({ zone: 'intel-rapl-mmio:0', name: 'package-0', energyUj: 1_000_000 });
}

describe('RAPL domain discovery', () => {
  it('keeps package-N zones, reports dram apart, and excludes core, uncore, psys and the MMIO duplicate', () => {
    twoSocketServer();
    const d = discoverRapl(fake.sysfsRoot);
    expect(d.packages.map(p => `${p.zone}=${p.name}`)).toEqual(['intel-rapl:0=package-0', 'intel-rapl:1=package-1']);
    expect(d.dram.map(p => `${p.zone}=${p.label}`)).toEqual([
      'intel-rapl:0:2=package-0/dram',
      'intel-rapl:1:1=package-1/dram',
    ]);
    expect(d.excluded).toEqual([
      'intel-rapl-mmio:0 (package-0): MMIO duplicate of the MSR zone',
      'intel-rapl:2 (psys): not a package domain (psys contains the packages)',
      'intel-rapl:0:0 (core): inside its package (counted there)',
      'intel-rapl:0:1 (uncore): inside its package (counted there)',
      'intel-rapl:1:0 (core): inside its package (counted there)',
    ]);
  });

  it('uses the MMIO zone when no MSR zone of that name exists', () => {
    fake.zone({ zone: 'intel-rapl-mmio:0', name: 'package-0', energyUj: 5 });
    expect(discoverRapl(fake.sysfsRoot).packages.map(p => p.zone)).toEqual(['intel-rapl-mmio:0']);
  });

  it('drops per-die mirrors (identical counters in one package) and keeps dies whose counters differ', () => {
    // Multi-die AMD: every die zone mirrors the socket-wide counter.
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0-die-0', energyUj: 777_000, maxRangeUj: AMD_RANGE_UJ });
    fake.zone({ zone: 'intel-rapl:1', name: 'package-0-die-1', energyUj: 777_000, maxRangeUj: AMD_RANGE_UJ });
    // A second socket whose dies count separately.
    fake.zone({ zone: 'intel-rapl:2', name: 'package-1-die-0', energyUj: 10 });
    fake.zone({ zone: 'intel-rapl:3', name: 'package-1-die-1', energyUj: 20 });
    const d = discoverRapl(fake.sysfsRoot);
    expect(d.packages.map(p => p.zone)).toEqual(['intel-rapl:0', 'intel-rapl:2', 'intel-rapl:3']);
    expect(d.excluded).toEqual([
      'intel-rapl:1 (package-0-die-1): mirrors intel-rapl:0 (identical counter, multi-die package)',
    ]);
  });

  it('reads the nested sysfs layout (subzones inside the package directory)', () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1 });
    fake.write('sys/class/powercap/intel-rapl:0/intel-rapl:0:0/name', 'dram\n');
    fake.write('sys/class/powercap/intel-rapl:0/intel-rapl:0:0/energy_uj', '5\n');
    fake.write('sys/class/powercap/intel-rapl:0/intel-rapl:0:0/max_energy_range_uj', `${INTEL_RANGE_UJ}\n`);
    expect(discoverRapl(fake.sysfsRoot).dram.map(p => p.label)).toEqual(['package-0/dram']);
  });
});

describe('RaplPackageSource', () => {
  it('sums the packages only (not dram, core, psys or the MMIO copy)', async () => {
    twoSocketServer();
    const src = new RaplPackageSource(fake.sysfsRoot);
    expect((await src.probe()).available).toBe(true);
    await src.start();
    fake.setEnergy('intel-rapl:0', 1_000_000 + 3_000_000);
    fake.setEnergy('intel-rapl:1', 2_000_000 + 5_000_000);
    fake.setEnergy('intel-rapl:0:2', 300_000 + 40_000_000);
    fake.setEnergy('intel-rapl:2', 9_000_000 + 90_000_000);
    const r = src.read();
    expect(r.energyJ).toBeCloseTo(8, 9);
    expect(r.devices.map(d => [d.deviceId, d.energyJ])).toEqual([
      ['package-0', 3],
      ['package-1', 5],
    ]);
    expect(src.devices()).toEqual([
      { id: 'package-0', name: 'RAPL package-0 (intel-rapl:0)' },
      { id: 'package-1', name: 'RAPL package-1 (intel-rapl:1)' },
    ]);
    await src.stop();
  });

  it('adds max_energy_range_uj when a counter goes down (AMD 65.5 kJ range, not 2^32)', async () => {
    fake.zone({
      zone: 'intel-rapl:0',
      name: 'package-0',
      energyUj: AMD_RANGE_UJ - 1_000_000,
      maxRangeUj: AMD_RANGE_UJ,
    });
    const src = new RaplPackageSource(fake.sysfsRoot);
    await src.start();
    fake.setEnergy('intel-rapl:0', 2_000_000); // wrapped: 1 J before the top, 2 J after
    expect(src.read().energyJ).toBeCloseTo(3, 9);
    fake.setEnergy('intel-rapl:0', 7_000_000);
    expect(src.read().energyJ).toBeCloseTo(8, 9);
    expect(src.wraps()).toBe(1);
    await src.stop();
  });

  it('treats an empty read (a file caught mid-rewrite) as no reading, never as a zero and a wrap', async () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 5_000_000 });
    const src = new RaplPackageSource(fake.sysfsRoot);
    await src.start();
    writeFileSync(fake.path('sys/class/powercap/intel-rapl:0/energy_uj'), '');
    expect(src.read().energyJ).toBe(0);
    fake.write('sys/class/powercap/intel-rapl:0/energy_uj', '8000000\n');
    expect(src.read().energyJ).toBe(3);
    expect(src.wraps()).toBe(0);
    await src.stop();
  });

  it('reports power over the last window of at least 200 ms', async () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 0 });
    const src = new RaplPackageSource(fake.sysfsRoot);
    await src.start();
    expect(src.read().powerW).toBeNull();
    await new Promise(r => setTimeout(r, 250));
    fake.setEnergy('intel-rapl:0', 25_000_000);
    const r = src.read();
    // 25 J over ~250 ms (timer slack makes it a bit longer): between 50 and 100 W.
    expect(r.powerW).toBeGreaterThan(50);
    expect(r.powerW).toBeLessThanOrEqual(100);
    await src.stop();
  });

  it('polls often enough that no wrap is missed at 1 kW: 32.8 s for AMD, capped at 60 s for Intel', async () => {
    expect(wrapPollPeriodMs(AMD_RANGE_UJ)).toBe(32_766);
    expect(wrapPollPeriodMs(INTEL_RANGE_UJ)).toBe(60_000);
    // Ranges under ~2 kJ wrap in under 2 s at 1 kW: the poll follows the range, no 1 s floor.
    expect(wrapPollPeriodMs(1_500_000_000)).toBe(750);
    expect(wrapPollPeriodMs(200_000_000)).toBe(100);
    expect(wrapPollPeriodMs(1_000_000)).toBe(10); // the timer's own resolution
    expect(wrapPollPeriodMs(1_500_000_000, 2000)).toBe(375);
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 0, maxRangeUj: AMD_RANGE_UJ });
    const src = new RaplPackageSource(fake.sysfsRoot);
    await src.start();
    expect(src.pollPeriodMs()).toBe(32_766);
    await src.stop();
  });

  it('the background poller catches a wrap that two reads alone would miss (two wraps between reads)', async () => {
    const range = 2_000_000_000; // 2 kJ: wraps in 2 s at 1 kW, so the poller runs every second
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_800_000_000, maxRangeUj: range });
    const src = new RaplPackageSource(fake.sysfsRoot);
    await src.start();
    expect(src.pollPeriodMs()).toBe(1000);
    fake.setEnergy('intel-rapl:0', 200_000_000); // wrap 1: +400 J
    // Changes land half a period after each poll (at ~1.0 s and ~2.0 s), so timer jitter cannot reorder them.
    await new Promise(r => setTimeout(r, 1500));
    fake.setEnergy('intel-rapl:0', 1_900_000_000); // +1,700 J
    await new Promise(r => setTimeout(r, 1000));
    fake.setEnergy('intel-rapl:0', 100_000_000); // wrap 2: +200 J
    // Only the poller saw the middle values; from 1.8e9 to 1e8 µJ alone reads as 300 J.
    expect(src.read().energyJ).toBeCloseTo(2300, 6);
    expect(src.wraps()).toBe(2);
    await src.stop();
  });

  it('is unavailable without a powercap directory and says how to use --sysfs-root', async () => {
    const probe = await new RaplPackageSource(fake.sysfsRoot).probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toBe(`no powercap directory at ${fake.sysfsRoot}/class/powercap`);
    expect(probe.fix).toContain('--sysfs-root');
  });

  it('is unavailable when powercap has no package zone', async () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'psys', energyUj: 1 });
    const probe = await new RaplPackageSource(fake.sysfsRoot).probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toBe(`no RAPL package domain under ${fake.sysfsRoot}/class/powercap`);
  });

  function expectPermissionProbe(probe: { available: boolean; reason?: string; fix?: string }): void {
    expect(probe.available).toBe(false);
    expect(probe.reason).toBe(
      `permission denied reading ${fake.sysfsRoot}/class/powercap/intel-rapl:0/energy_uj: energy_uj is root-only since Linux 5.10 and its backports (CVE-2020-8694)`,
    );
    expect(probe.fix).toContain(RAPL_UDEV_RULE);
    expect(probe.fix).toContain(`sudo chmod a+r ${fake.sysfsRoot}/class/powercap/intel-rapl:*/energy_uj`);
    expect(probe.fix).toContain(`${fake.sysfsRoot}/class/powercap/intel-rapl-mmio:*/energy_uj`);
  }

  const isRoot = process.getuid?.() === 0;
  it.runIf(!isRoot)(
    'permission denied (energy_uj mode 000, non-root run) → unavailable with the udev and chmod fix',
    async () => {
      fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1 });
      chmodSync(fake.path('sys/class/powercap/intel-rapl:0/energy_uj'), 0o000);
      expectPermissionProbe(await new RaplPackageSource(fake.sysfsRoot).probe());
    },
  );

  it.runIf(isRoot)(
    'permission denied (energy_uj root-only 0400 as the kernel makes it; suite runs as root, so the probe runs as nobody in a child)',
    () => {
      fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1 });
      chmodSync(fake.root, 0o755);
      chmodSync(fake.path('sys/class/powercap/intel-rapl:0/energy_uj'), 0o400);
      const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
      const out = runAsNobody(
        [here('rapl.ts'), here('rapl-counter.ts'), here('rapl-domains.ts')],
        `import { RaplPackageSource } from './rapl.js';
         console.log(JSON.stringify(await new RaplPackageSource(${JSON.stringify(fake.sysfsRoot)}).probe()));`,
      );
      expectPermissionProbe(JSON.parse(out));
    },
  );
});

describe('RaplDramSource', () => {
  it('measures the dram subzones as the ram component', async () => {
    twoSocketServer();
    const src = new RaplDramSource(fake.sysfsRoot);
    expect(src.component).toBe('ram');
    expect(src.measured).toBe(true);
    expect((await src.probe()).available).toBe(true);
    await src.start();
    fake.setEnergy('intel-rapl:0:2', 300_000 + 1_500_000);
    fake.setEnergy('intel-rapl:1:1', 400_000 + 2_500_000);
    expect(src.read().energyJ).toBeCloseTo(4, 9);
    await src.stop();
  });

  it('is unavailable when the packages have no dram subzone', async () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1 });
    const probe = await new RaplDramSource(fake.sysfsRoot).probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toBe(
      `the RAPL packages under ${fake.sysfsRoot}/class/powercap have no dram subzone (common on client CPUs and AMD)`,
    );
    expect(probe.fix).toBeUndefined();
  });
});
