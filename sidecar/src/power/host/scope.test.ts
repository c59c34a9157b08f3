import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeRoot } from '../../../test-support/fake-sysfs.js';
import { countCpuList, readScope } from './scope.js';

const GiB = 1024 ** 3;
let fake: FakeRoot;
beforeEach(() => {
  fake = new FakeRoot();
});
afterEach(() => fake.cleanup());

function scope(env: NodeJS.ProcessEnv = {}) {
  return readScope({
    sysfsRoot: fake.sysfsRoot,
    procRoot: fake.procRoot,
    env,
    totalCpus: 64,
    totalMemBytes: 256 * GiB,
  });
}

describe('readScope', () => {
  it('is the whole machine with no cgroup v2 line', () => {
    fake.write('proc/self/cgroup', '4:memory:/user.slice\n1:cpu:/\n');
    expect(scope()).toEqual({
      kind: 'machine',
      detail: 'whole machine: 64 CPUs, 256.0 GB memory',
      cpuFraction: 1,
      allowedCpus: 64,
      totalCpus: 64,
      memLimitBytes: null,
      cgroupDir: null,
    });
  });

  it('reads a 2-CPU pod from cpu.max, memory.max and a parent cpuset (cgroup v2)', () => {
    fake.write('proc/self/cgroup', '0::/kubepods/pod1/c1\n');
    fake.write('sys/fs/cgroup/kubepods/pod1/c1/cpu.max', '200000 100000\n');
    fake.write('sys/fs/cgroup/kubepods/pod1/c1/memory.max', `${4 * GiB}\n`);
    fake.write('sys/fs/cgroup/kubepods/pod1/c1/cpuset.cpus.effective', '0-7\n');
    const s = scope();
    expect(s.kind).toBe('cgroup');
    expect(s.allowedCpus).toBe(2);
    expect(s.cpuFraction).toBeCloseTo(2 / 64, 12);
    expect(s.memLimitBytes).toBe(4 * GiB);
    expect(s.cgroupDir).toBe(fake.path('sys/fs/cgroup/kubepods/pod1/c1'));
    expect(s.detail).toBe(
      'cgroup /kubepods/pod1/c1: 2.00 of 64 CPUs (cpu.max quota 2.00 CPUs, cpuset 8 CPUs, memory.max 4.0 GB), memory 4.0 GB of 256.0 GB',
    );
  });

  it('takes the tightest limit on the path to the root (a pod-level quota above an unlimited container)', () => {
    fake.write('proc/self/cgroup', '0::/pod/c\n');
    fake.write('sys/fs/cgroup/pod/c/cpu.max', 'max 100000\n');
    fake.write('sys/fs/cgroup/pod/cpu.max', '150000 100000\n');
    fake.write('sys/fs/cgroup/pod/c/memory.max', 'max\n');
    fake.write('sys/fs/cgroup/pod/memory.max', `${8 * GiB}\n`);
    const s = scope();
    expect(s.allowedCpus).toBe(1.5);
    expect(s.memLimitBytes).toBe(8 * GiB);
  });

  it('a cpuset alone limits the CPUs', () => {
    fake.write('proc/self/cgroup', '0::/\n');
    fake.write('sys/fs/cgroup/cpuset.cpus.effective', '0-3,8,10-11\n');
    expect(scope()).toMatchObject({ kind: 'cgroup', allowedCpus: 7, memLimitBytes: null });
  });

  it('an unlimited cgroup is the machine', () => {
    fake.write('proc/self/cgroup', '0::/user.slice\n');
    fake.write('sys/fs/cgroup/user.slice/cpu.max', 'max 100000\n');
    fake.write('sys/fs/cgroup/user.slice/memory.max', 'max\n');
    expect(scope().kind).toBe('machine');
  });

  it('uses the SLURM allocation when SLURM_JOB_ID is set', () => {
    const s = scope({ SLURM_JOB_ID: '4242', SLURM_CPUS_ON_NODE: '8', SLURM_MEM_PER_NODE: '16384' });
    expect(s).toMatchObject({ kind: 'slurm', allowedCpus: 8, cpuFraction: 8 / 64, memLimitBytes: 16 * GiB });
    expect(s.detail).toBe('SLURM job 4242: 8 of 64 CPUs, 16.0 GB of 256.0 GB memory');
  });

  it('SLURM: falls back to SLURM_JOB_CPUS_PER_NODE and SLURM_MEM_PER_CPU', () => {
    const s = scope({ SLURM_JOB_ID: '1', SLURM_JOB_CPUS_PER_NODE: '4(x2)', SLURM_MEM_PER_CPU: '1024' });
    expect(s).toMatchObject({ allowedCpus: 4, memLimitBytes: 4 * GiB });
  });
});

describe('countCpuList', () => {
  it('counts ranges and single CPUs', () => {
    expect(countCpuList('0-3,8,10-11')).toBe(7);
    expect(countCpuList('5')).toBe(1);
    expect(countCpuList('')).toBe(0);
  });
});
