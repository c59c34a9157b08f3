import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFakeNvidiaSmi } from '../../test-support/fake-nvidia-smi.js';
import { FakeRoot, procStat } from '../../test-support/fake-sysfs.js';
import { createPowerSources, doctor, startAll, stopAll } from './index.js';

const GiB = 1024 ** 3;
let fake: FakeRoot;
beforeEach(() => {
  fake = new FakeRoot();
  fake.write('proc/stat', procStat(8, 0, 0));
  fake.write('proc/meminfo', `MemTotal:       ${32 * 1024 * 1024} kB\nMemFree: 1 kB\n`);
  fake.write(
    'proc/cpuinfo',
    'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nphysical id\t: 0\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nphysical id\t: 1\n',
  );
  fake.write('proc/self/cgroup', '0::/\n');
});
afterEach(() => fake.cleanup());

const opts = () => ({
  sysfsRoot: fake.sysfsRoot,
  procRoot: fake.procRoot,
  env: { PATH: '/nonexistent' },
  nvidiaSmiPath: fake.path('no-nvidia-smi'),
  nvmlLibPath: fake.path('no-libnvidia-ml.so.1'),
  systemInfo: false,
});

describe('createPowerSources', () => {
  it('without RAPL: CPU estimated from the table TDP × sockets, RAM model, no GPU; RAPL listed with its fix', async () => {
    const setup = await createPowerSources(opts());
    expect(setup.sources.map(s => `${s.component}:${s.method}`)).toEqual(['cpu:tdp-load', 'gpu:none', 'ram:ram-model']);
    expect(setup.hardware).toEqual({
      cpuModel: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
      cpuCount: 8,
      cpuTdpW: 410,
      cpuTdpSource: expect.stringMatching(/^205 W × 2 sockets, table \(exact match "Intel Xeon Gold 6338"/),
      gpuCount: 0,
      gpuModel: null,
      ramTotalGB: 32,
    });
    expect(setup.scope.kind).toBe('machine');
    const rapl = setup.info.find(i => i.id === 'rapl')!;
    expect(rapl.available).toBe(false);
    expect(rapl.fix).toContain('--sysfs-root');
    expect(setup.info.find(i => i.id === 'ram-model')!.detail).toBe(
      'estimate 20.00 W: 4 DIMMs estimated from 32.0 GB (CodeCarbon 3 DIMM-count estimate) × 5 W, 90/80/70 % beyond 4/8/16 DIMMs, floor 10 W (CodeCarbon 3 RAM model): 20.0 W',
    );
  });

  it('RAM model from the memory size under --proc-root (a container reading the host): 2 TiB → 70 W, 24 GB → 20 W', async () => {
    for (const [gib, watts] of [
      [2048, 70],
      [24, 20],
    ] as const) {
      fake.write('proc/meminfo', `MemTotal:       ${gib * 1024 * 1024} kB\nMemFree: 1 kB\n`);
      const setup = await createPowerSources(opts());
      const ram = setup.sources.find(s => s.component === 'ram')!;
      expect(ram.method).toBe('ram-model');
      await ram.start();
      expect(ram.read().powerW).toBeCloseTo(watts, 10);
      expect(setup.hardware.ramTotalGB).toBe(gib);
      expect(setup.info.find(i => i.id === 'ram-model')!.detail).toContain(`estimated from ${gib.toFixed(1)} GB`);
    }
  });

  it('with RAPL packages and dram: both measured sources win; the estimates are not listed, the missing GPU sources are', async () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 10 });
    fake.zone({ zone: 'intel-rapl:0:0', name: 'dram', energyUj: 10 });
    const setup = await createPowerSources(opts());
    expect(setup.sources.map(s => `${s.component}:${s.method}:${s.measured}`)).toEqual([
      'cpu:rapl:true',
      'gpu:none:false',
      'ram:rapl:true',
    ]);
    expect(setup.info.map(i => i.id)).toEqual(['rapl', 'nvidia-nvml', 'nvidia-smi', 'gpu-none', 'rapl-dram']);
    await startAll(setup.sources);
    fake.setEnergy('intel-rapl:0', 2_000_010);
    expect(setup.sources[0]!.read().energyJ).toBeCloseTo(2, 9);
    await stopAll(setup.sources);
  });

  it('an unknown CPU uses the 85 W default and says so; --cpu-tdp overrides', async () => {
    fake.write('proc/cpuinfo', 'processor\t: 0\nmodel name\t: Mystery Chip 9000\n');
    const setup = await createPowerSources(opts());
    expect(setup.hardware.cpuTdpW).toBe(85);
    expect(setup.hardware.cpuTdpSource).toBe(
      `default 85 W: CPU "Mystery Chip 9000" not in the table (PNAV Lab's own default for an unknown CPU: the value of CodeCarbon's POWER_CONSTANT, not CodeCarbon 3's rule for an unknown CPU); set --cpu-tdp`,
    );
    const forced = await createPowerSources({ ...opts(), cpuTdpW: 65 });
    expect(forced.hardware).toMatchObject({ cpuTdpW: 65, cpuTdpSource: '--cpu-tdp' });
  });

  it('applies a cgroup memory limit to the RAM model and reports the scope', async () => {
    fake.write('proc/self/cgroup', '0::/pod\n');
    fake.write('sys/fs/cgroup/pod/memory.max', `${4 * GiB}\n`);
    fake.write('sys/fs/cgroup/pod/cpu.max', '100000 100000\n');
    const setup = await createPowerSources(opts());
    expect(setup.scope).toMatchObject({ kind: 'cgroup', allowedCpus: 1, memLimitBytes: 4 * GiB });
    const ram = setup.sources.find(s => s.component === 'ram')!;
    expect(ram.read().powerW).toBe(2.5); // 20 W for the estimated 4 DIMMs of 32 GB × 4 GB / 32 GB
  });
});

describe('GPU choice', () => {
  it('without NVML, the streaming nvidia-smi measures the GPUs --gpu-ids name; NVML is listed with its fix', async () => {
    const smi = makeFakeNvidiaSmi(fake.path('smi'));
    const setup = await createPowerSources({ ...opts(), nvidiaSmiPath: smi.path, gpuIds: [0, 2], smiIntervalMs: 50 });
    expect(setup.sources.map(s => `${s.component}:${s.method}`)).toEqual([
      'cpu:tdp-load',
      'gpu:nvidia-smi',
      'ram:ram-model',
    ]);
    expect(setup.hardware).toMatchObject({ gpuCount: 2, gpuModel: '2 x NVIDIA H100 80GB HBM3' });
    const nvml = setup.info.find(i => i.id === 'nvidia-nvml')!;
    expect(nvml.available).toBe(false);
    expect(nvml.fix).toMatch(/^Install the NVIDIA driver/);
    await startAll(setup.sources);
    await new Promise(r => setTimeout(r, 300));
    const gpu = setup.sources[1]!.read();
    expect(gpu.devices.map(d => d.deviceId)).toEqual(['gpu0', 'gpu2']);
    expect(gpu.energyJ).toBeGreaterThan(0);
    await stopAll(setup.sources);
  });
});

describe('doctor', () => {
  it('lists every candidate; measuredAvailable is false with estimates only', async () => {
    const d = await doctor(opts());
    expect(d.sources.map(s => `${s.id}:${s.available}`)).toEqual(
      expect.arrayContaining(['rapl:false', 'cpu-tdp-load:true', 'gpu-none:true', 'rapl-dram:false', 'ram-model:true']),
    );
    expect(d.measuredAvailable).toBe(false);
  });

  it('measuredAvailable is true with a readable RAPL package', async () => {
    fake.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 10 });
    expect((await doctor(opts())).measuredAvailable).toBe(true);
  });
});
