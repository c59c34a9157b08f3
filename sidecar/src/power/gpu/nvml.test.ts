import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeRoot } from '../../../test-support/fake-sysfs.js';
import { selectGpus } from './gpu-visibility.js';
import { NvmlSource } from './nvml.js';

// A fake libnvidia-ml compiled from test-support/fake-nvml.c: the NVML calls go through koffi for real.
const fake = new FakeRoot();
const libPath = fake.path('libnvidia-ml.so.1');
let compiled = false;
beforeAll(() => {
  try {
    execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-o',
      libPath,
      fileURLToPath(new URL('../../../test-support/fake-nvml.c', import.meta.url)),
    ]);
    compiled = true;
  } catch (err) {
    console.warn(`nvml.test: SKIPPED — no C compiler to build the fake libnvidia-ml (${(err as Error).message})`);
  }
  process.env.FAKE_NVML_DIR = fake.root;
});
afterAll(() => fake.cleanup());
afterEach(() => {
  delete process.env.FAKE_NVML_UNSUPPORTED;
  delete process.env.FAKE_NVML_COUNT;
});

const setEnergyMj = (index: number, mj: number) => writeFileSync(fake.path(`energy${index}`), `${mj}\n`);
const all =
  (env: NodeJS.ProcessEnv = {}) =>
  (gpus: Parameters<typeof selectGpus>[0]) =>
    selectGpus(gpus, undefined, env);

describe('NvmlSource (through koffi, against a fake libnvidia-ml)', () => {
  it('reads the total-energy counter delta since start, per GPU, in joules', async ({ skip }) => {
    if (!compiled) skip();
    setEnergyMj(0, 5_000_000);
    setEnergyMj(1, 9_000_000);
    const src = new NvmlSource({ libPath, select: all() });
    const probe = await src.probe();
    expect(probe).toEqual({
      available: true,
      detail: 'NVML total-energy counter (mJ) on GPU 0 Fake GPU 0, GPU 1 Fake GPU 1 (all GPUs)',
    });
    await src.start();
    setEnergyMj(0, 5_000_000 + 1_500);
    setEnergyMj(1, 9_000_000 + 250_000);
    const r = src.read();
    expect(r.devices).toEqual([
      { deviceId: 'gpu0', energyJ: 1.5, powerW: 100 },
      { deviceId: 'gpu1', energyJ: 250, powerW: 101 },
    ]);
    expect(r.energyJ).toBe(251.5);
    expect(r.powerW).toBe(201);
    await src.stop();
  });

  it('samples only the GPUs CUDA_VISIBLE_DEVICES shows', async ({ skip }) => {
    if (!compiled) skip();
    process.env.FAKE_NVML_COUNT = '4';
    for (const i of [0, 1, 2, 3]) setEnergyMj(i, 0);
    const src = new NvmlSource({ libPath, select: all({ CUDA_VISIBLE_DEVICES: '2' }) });
    expect((await src.probe()).available).toBe(true);
    expect(src.devices()).toEqual([{ id: 'gpu2', name: 'Fake GPU 2' }]);
    await src.stop();
  });

  it('is unavailable on GPUs without the energy counter (pre-Volta), pointing to nvidia-smi', async ({ skip }) => {
    if (!compiled) skip();
    process.env.FAKE_NVML_UNSUPPORTED = '1';
    const src = new NvmlSource({ libPath, select: all() });
    expect(await src.probe()).toEqual({
      available: false,
      reason: 'GPU 0 (Fake GPU 0) has no total-energy counter (pre-Volta or vGPU)',
      detail: 'nvidia-smi power integration is used instead',
    });
    await src.stop();
  });

  it('says the driver is missing when libnvidia-ml cannot be loaded', async () => {
    const src = new NvmlSource({ libPath: fake.path('missing/libnvidia-ml.so.1'), select: all() });
    const probe = await src.probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toBe(`${fake.path('missing/libnvidia-ml.so.1')} not found: no NVIDIA driver on this machine`);
  });
});
