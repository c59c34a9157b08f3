/**
 * What share of the machine a measurement covers: the whole machine, a cgroup v2 limit
 * (Docker, Kubernetes, JupyterHub) or a SLURM allocation. The CPU estimate and the RAM model scale by
 * it, so a notebook in a 2-CPU pod on a 64-core node is not charged for 64 cores. RAPL and GPU
 * counters measure devices, not allocations, and are not scaled.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Scope {
  kind: 'machine' | 'cgroup' | 'slurm';
  detail: string;
  /** Allowed CPUs / total CPUs, 0..1. */
  cpuFraction: number;
  allowedCpus: number;
  totalCpus: number;
  /** The memory limit that applies, or null when only the machine total does. */
  memLimitBytes: number | null;
  /** The process's cgroup v2 directory (for its cpu.stat), or null. */
  cgroupDir: string | null;
}

export interface ScopeOptions {
  sysfsRoot: string;
  procRoot: string;
  env: NodeJS.ProcessEnv;
  totalCpus: number;
  totalMemBytes: number;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Counts the CPUs of a cpuset list such as `0-3,8,10-11`. */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list
    .split(',')
    .map(s => s.trim())
    .filter(Boolean)) {
    const [lo, hi] = part.split('-').map(Number);
    if (lo === undefined || !Number.isInteger(lo)) continue;
    n += hi !== undefined && Number.isInteger(hi) ? hi - lo + 1 : 1;
  }
  return n;
}

/** The cgroup v2 path of this process (`0::<path>` in /proc/self/cgroup), or null on v1-only hosts. */
export function cgroupV2Path(procRoot: string): string | null {
  const text = readText(join(procRoot, 'self', 'cgroup'));
  const line = text?.split('\n').find(l => l.startsWith('0::'));
  return line ? line.slice(3) || '/' : null;
}

interface CgroupLimits {
  dir: string;
  quotaCpus: number | null;
  cpusetCpus: number | null;
  memMaxBytes: number | null;
}

/** Effective limits: the smallest quota and memory.max on the path from the process's cgroup to the root. */
function readCgroupLimits(sysfsRoot: string, path: string): CgroupLimits {
  const root = join(sysfsRoot, 'fs', 'cgroup');
  const dir = join(root, path);
  let quotaCpus: number | null = null;
  let memMaxBytes: number | null = null;
  let cpusetCpus: number | null = null;
  const parts = path.split('/').filter(Boolean);
  for (let depth = parts.length; depth >= 0; depth--) {
    const level = join(root, ...parts.slice(0, depth));
    const [quota, period] = (readText(join(level, 'cpu.max')) ?? 'max').split(/\s+/);
    if (quota && quota !== 'max' && Number(quota) > 0 && Number(period) > 0) {
      const cpus = Number(quota) / Number(period);
      quotaCpus = quotaCpus === null ? cpus : Math.min(quotaCpus, cpus);
    }
    const mem = readText(join(level, 'memory.max'));
    if (mem && mem !== 'max' && Number(mem) > 0) {
      memMaxBytes = memMaxBytes === null ? Number(mem) : Math.min(memMaxBytes, Number(mem));
    }
    // cpuset.cpus.effective is already effective; the deepest level that has it wins.
    if (cpusetCpus === null) {
      const cpuset = readText(join(level, 'cpuset.cpus.effective'));
      if (cpuset) cpusetCpus = countCpuList(cpuset);
    }
  }
  return { dir, quotaCpus, cpusetCpus, memMaxBytes };
}

function positive(value: string | undefined): number | null {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : null;
}

function gb(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

export function readScope(opts: ScopeOptions): Scope {
  const { sysfsRoot, procRoot, env, totalCpus, totalMemBytes } = opts;
  const cgPath = cgroupV2Path(procRoot);
  const limits = cgPath !== null ? readCgroupLimits(sysfsRoot, cgPath) : null;
  const cgroupDir = limits?.dir ?? null;

  if (env.SLURM_JOB_ID) {
    // SLURM_JOB_CPUS_PER_NODE looks like `4(x2)` or `4,2`: the first figure is this node's.
    const cpus =
      positive(env.SLURM_CPUS_ON_NODE) ?? positive(/^\d+/.exec(env.SLURM_JOB_CPUS_PER_NODE ?? '')?.[0]) ?? totalCpus;
    const allowedCpus = Math.min(cpus, totalCpus);
    const memMb =
      positive(env.SLURM_MEM_PER_NODE) ??
      (positive(env.SLURM_MEM_PER_CPU) !== null ? positive(env.SLURM_MEM_PER_CPU)! * allowedCpus : null);
    const memLimitBytes = memMb !== null ? Math.min(memMb * 1024 * 1024, totalMemBytes) : null;
    return {
      kind: 'slurm',
      detail: `SLURM job ${env.SLURM_JOB_ID}: ${allowedCpus} of ${totalCpus} CPUs${memLimitBytes !== null ? `, ${gb(memLimitBytes)} of ${gb(totalMemBytes)} memory` : ''}`,
      cpuFraction: allowedCpus / totalCpus,
      allowedCpus,
      totalCpus,
      memLimitBytes,
      cgroupDir,
    };
  }

  if (limits) {
    const cpuLimits = [limits.quotaCpus, limits.cpusetCpus].filter((x): x is number => x !== null);
    const allowedCpus = Math.min(totalCpus, ...cpuLimits);
    const memLimitBytes = limits.memMaxBytes !== null && limits.memMaxBytes < totalMemBytes ? limits.memMaxBytes : null;
    if (allowedCpus < totalCpus || memLimitBytes !== null) {
      const why = [
        limits.quotaCpus !== null ? `cpu.max quota ${limits.quotaCpus.toFixed(2)} CPUs` : null,
        limits.cpusetCpus !== null && limits.cpusetCpus < totalCpus ? `cpuset ${limits.cpusetCpus} CPUs` : null,
        memLimitBytes !== null ? `memory.max ${gb(memLimitBytes)}` : null,
      ].filter(Boolean);
      return {
        kind: 'cgroup',
        detail: `cgroup ${cgPath}: ${allowedCpus.toFixed(2)} of ${totalCpus} CPUs (${why.join(', ')}), memory ${gb(memLimitBytes ?? totalMemBytes)} of ${gb(totalMemBytes)}`,
        cpuFraction: allowedCpus / totalCpus,
        allowedCpus,
        totalCpus,
        memLimitBytes,
        cgroupDir,
      };
    }
  }

  return {
    kind: 'machine',
    detail: `whole machine: ${totalCpus} CPUs, ${gb(totalMemBytes)} memory`,
    cpuFraction: 1,
    allowedCpus: totalCpus,
    totalCpus,
    memLimitBytes: null,
    cgroupDir,
  };
}
