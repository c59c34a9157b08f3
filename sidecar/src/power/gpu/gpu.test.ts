import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFakeNvidiaSmi } from '../../../test-support/fake-nvidia-smi.js';
import { FakeRoot } from '../../../test-support/fake-sysfs.js';
import { discoverGpus, gpuModelLabel } from './gpu.js';
import { selectGpus } from './gpu-visibility.js';
import { parseQueryGpuList, readNvidiaInventory } from './nvidia-inventory.js';

let fake: FakeRoot;
beforeEach(() => {
  fake = new FakeRoot();
});
afterEach(() => fake.cleanup());

const four = [0, 1, 2, 3].map(index => ({ index, uuid: `GPU-${index}abc-0000`, name: 'NVIDIA H100' }));

describe('selectGpus', () => {
  it('takes every GPU by default', () => {
    expect(selectGpus(four, undefined, {}).selected.map(g => g.index)).toEqual([0, 1, 2, 3]);
  });
  it('respects CUDA_VISIBLE_DEVICES indices and UUID prefixes, in its order', () => {
    expect(selectGpus(four, undefined, { CUDA_VISIBLE_DEVICES: '2,0' }).selected.map(g => g.index)).toEqual([2, 0]);
    expect(selectGpus(four, undefined, { CUDA_VISIBLE_DEVICES: 'GPU-3abc' }).selected.map(g => g.index)).toEqual([3]);
  });
  it('stops at the first invalid entry, and an empty value hides every GPU (CUDA semantics)', () => {
    expect(selectGpus(four, undefined, { CUDA_VISIBLE_DEVICES: '1,-1,2' }).selected.map(g => g.index)).toEqual([1]);
    expect(selectGpus(four, undefined, { CUDA_VISIBLE_DEVICES: '' }).selected).toEqual([]);
  });
  it("MIG ids in the sidecar's own environment select their parent GPU (they used to end the list: GPU absent)", () => {
    const mig = four.map(g => (g.index === 2 ? { ...g, migUuids: ['MIG-2222aaaa-0001'] } : g));
    const s = selectGpus(mig, undefined, { CUDA_VISIBLE_DEVICES: 'MIG-2222aaaa-0001' });
    expect(s.selected.map(g => g.index)).toEqual([2]);
    expect(s.scope).toBe('whole GPU (MIG slice not separable)');
    expect(selectGpus(mig, undefined, { CUDA_VISIBLE_DEVICES: 'GPU-1abc-0000' }).scope).toBe('whole GPU');
  });
  it('--gpu-ids win over CUDA_VISIBLE_DEVICES', () => {
    const s = selectGpus(four, [1, 3], { CUDA_VISIBLE_DEVICES: '0' });
    expect(s.selected.map(g => g.index)).toEqual([1, 3]);
    expect(s.rule).toBe('--gpu-ids 1,3');
  });
});

describe('inventory', () => {
  it('parses nvidia-smi --query-gpu=index,uuid,name', () => {
    expect(parseQueryGpuList('0, GPU-a, NVIDIA A100-SXM4-40GB\n1, GPU-b, Tesla V100, PCIe\n')).toEqual([
      { index: 0, uuid: 'GPU-a', name: 'NVIDIA A100-SXM4-40GB' },
      { index: 1, uuid: 'GPU-b', name: 'Tesla V100, PCIe' },
    ]);
  });
  it('reads the fake nvidia-smi, and says when nvidia-smi is missing', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    expect((await readNvidiaInventory(smi.path, false)).gpus.map(g => g.index)).toEqual([0, 1, 2, 3]);
    const missing = await readNvidiaInventory(fake.path('nope'), false);
    expect(missing).toEqual({
      gpus: [],
      reason: `no NVIDIA GPU found (${fake.path('nope')} not found)`,
      smiAvailable: false,
    });
  });
  it('reads MIG instances from nvidia-smi -L under their parent GPU', async () => {
    const smi = makeFakeNvidiaSmi(fake.root, { mig: '3 MIG-3333aaaa-0001;3 MIG-3333aaaa-0002' });
    const gpus = (await readNvidiaInventory(smi.path, false)).gpus;
    expect(gpus[3]!.migUuids).toEqual(['MIG-3333aaaa-0001', 'MIG-3333aaaa-0002']);
    expect(gpus[0]!.migUuids).toBeUndefined();
  });
  it('labels the model as calculadorapnav does', () => {
    expect(gpuModelLabel([...four.slice(0, 2), { index: 4, uuid: null, name: 'NVIDIA A10' }])).toBe(
      '2 x NVIDIA H100, 1 x NVIDIA A10',
    );
    expect(gpuModelLabel([])).toBeNull();
  });
});

describe('discoverGpus', () => {
  it('a sidecar given a MIG slice samples the parent GPU and says the slice is not separable', async () => {
    const smi = makeFakeNvidiaSmi(fake.root, { mig: '1 MIG-1111aaaa-0001' });
    const d = await discoverGpus({
      nvidiaSmiPath: smi.path,
      nvmlLibPath: fake.path('libnvidia-ml.so.1'),
      env: { CUDA_VISIBLE_DEVICES: 'MIG-1111aaaa-0001' },
      systemInfo: false,
    });
    expect(d.gpuCount).toBe(1);
    expect(d.scope).toBe('whole GPU (MIG slice not separable)');
    expect(d.candidates[1]!.devices()).toEqual([{ id: 'gpu1', name: 'NVIDIA H100 80GB HBM3' }]);
  });

  it('without libnvidia-ml, NVML says so and nvidia-smi is the candidate for the CUDA_VISIBLE_DEVICES GPUs', async () => {
    const smi = makeFakeNvidiaSmi(fake.root);
    const d = await discoverGpus({
      nvidiaSmiPath: smi.path,
      nvmlLibPath: fake.path('libnvidia-ml.so.1'),
      env: { CUDA_VISIBLE_DEVICES: '1,3' },
      systemInfo: false,
    });
    expect(d.gpuCount).toBe(2);
    expect(d.gpuModel).toBe('2 x NVIDIA H100 80GB HBM3');
    const [nvml, smiSource] = d.candidates;
    const nvmlProbe = await nvml!.probe();
    expect(nvmlProbe.available).toBe(false);
    expect(nvmlProbe.reason).toBe(`${fake.path('libnvidia-ml.so.1')} not found: no NVIDIA driver on this machine`);
    expect(nvmlProbe.fix).toMatch(/^Install the NVIDIA driver/);
    expect((await smiSource!.probe()).available).toBe(true);
    expect(smiSource!.devices()).toEqual([
      { id: 'gpu1', name: 'NVIDIA H100 80GB HBM3' },
      { id: 'gpu3', name: 'NVIDIA H100 80GB HBM3' },
    ]);
  });
});
