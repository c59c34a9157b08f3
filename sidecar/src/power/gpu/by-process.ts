/**
 * GPU scope 'by-process' (CarbonTracker's devices_by_pid): a run counts only the GPUs on which
 * the kernel's own process tree has compute processes, as NVIDIA's driver reports them.
 * One short nvidia-smi query per refresh serves every tracked run; GPUs found are kept for the
 * rest of the run (a process that freed its GPU still used it inside the window).
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { type GpuApp, ProcReader } from '../host/process-shares.js';

export interface ComputeApp {
  pid: number;
  gpuUuid: string;
  /** GPU memory the process holds, in MiB; null where the driver says [N/A]. */
  usedMemoryMiB: number | null;
}

/** The driver's compute processes at one instant, with GPU indices. */
export interface GpuAppsSnapshot {
  monoMs: number;
  apps: GpuApp[];
  error: string | null;
}

export interface GpuQueryResult {
  /** GPU indices (nvidia-smi's numbering) running at least one of the pids. */
  gpuIds: number[];
  /** Why the driver could not be asked; the ids are then empty. "Not supported" is data, not an exception. */
  error: string | null;
}

const QUERY_TIMEOUT_MS = 5000;

function run(nvidiaSmiPath: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(nvidiaSmiPath, args, { timeout: QUERY_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`${nvidiaSmiPath} ${args[0]} failed: ${(stderr || err.message).trim().split('\n')[0]}`));
      else resolve(stdout);
    });
  });
}

function csvRows(text: string): string[][] {
  return text
    .split('\n')
    .map(line => line.trim())
    .filter(line => line !== '' && !line.startsWith('No running'))
    .map(line => line.split(',').map(cell => cell.trim()));
}

/** `nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory`: one row per process using a GPU. */
export async function queryComputeApps(nvidiaSmiPath: string): Promise<ComputeApp[]> {
  const out = await run(nvidiaSmiPath, ['--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,noheader']);
  return csvRows(out)
    .filter(([pid, uuid]) => /^\d+$/.test(pid ?? '') && uuid)
    .map(([pid, uuid, memory]) => {
      const mib = Number.parseFloat(memory ?? ''); // "1234 MiB"; "[N/A]" on some drivers
      return { pid: Number(pid), gpuUuid: uuid!, usedMemoryMiB: Number.isFinite(mib) ? mib : null };
    });
}

/** `nvidia-smi --query-gpu=index,uuid`: GPU UUID → index. */
export async function queryGpuIndices(nvidiaSmiPath: string): Promise<Map<string, number>> {
  const out = await run(nvidiaSmiPath, ['--query-gpu=index,uuid', '--format=csv,noheader']);
  const map = new Map<string, number>();
  for (const [index, uuid] of csvRows(out)) if (/^\d+$/.test(index ?? '') && uuid) map.set(uuid, Number(index));
  return map;
}

/** The GPU indices on which any of `pids` runs a compute process. */
export async function gpusForPids(nvidiaSmiPath: string, pids: Iterable<number>): Promise<GpuQueryResult> {
  try {
    const wanted = new Set(pids);
    const apps = (await queryComputeApps(nvidiaSmiPath)).filter(a => wanted.has(a.pid));
    if (apps.length === 0) return { gpuIds: [], error: null };
    const indexOf = await queryGpuIndices(nvidiaSmiPath);
    const ids = new Set<number>();
    for (const app of apps) {
      const index = indexOf.get(app.gpuUuid);
      if (index !== undefined) ids.add(index);
    }
    return { gpuIds: [...ids].sort((a, b) => a - b), error: null };
  } catch (err) {
    return { gpuIds: [], error: (err as Error).message };
  }
}

/** Tracks open runs in 'by-process' mode: which GPUs each kernel's process tree has used so far. */
export class ByProcessGpuScope {
  private readonly runs = new Map<string, { pid: number; gpuIds: Set<number> }>();
  private readonly proc: ProcReader;
  private indexOf: Map<string, number> | null = null;
  private inflight: Promise<GpuAppsSnapshot> | null = null;
  lastError: string | null = null;
  /** The latest list of compute processes (for the GPU share of every run with a pid). */
  latest: GpuAppsSnapshot | null = null;

  constructor(
    private readonly nvidiaSmiPath: string,
    procRoot = '/proc',
  ) {
    this.proc = new ProcReader(procRoot);
  }

  track(runId: string, pid: number): void {
    this.runs.set(runId, { pid, gpuIds: new Set() });
  }

  untrack(runId: string): void {
    this.runs.delete(runId);
  }

  get size(): number {
    return this.runs.size;
  }

  /** GPUs used so far by the run's process tree (sorted), or null when the run is not tracked. */
  gpuIds(runId: string): number[] | null {
    const entry = this.runs.get(runId);
    return entry ? [...entry.gpuIds].sort((a, b) => a - b) : null;
  }

  /**
   * One driver query (shared by concurrent callers): the compute processes with their GPU index and
   * memory. Slow on big nodes (hundreds of ms), so callers read the energy counters before asking.
   */
  snapshot(): Promise<GpuAppsSnapshot> {
    this.inflight ??= (async () => {
      try {
        const apps = await queryComputeApps(this.nvidiaSmiPath);
        const unknown = apps.some(a => !this.indexOf?.has(a.gpuUuid));
        if (unknown) this.indexOf = await queryGpuIndices(this.nvidiaSmiPath).catch(() => this.indexOf ?? new Map());
        this.lastError = null;
        const withIndex = apps.flatMap(a => {
          const gpuIndex = this.indexOf?.get(a.gpuUuid);
          return gpuIndex === undefined ? [] : [{ pid: a.pid, gpuIndex, usedMemoryMiB: a.usedMemoryMiB }];
        });
        this.latest = { monoMs: performance.now(), apps: withIndex, error: null };
      } catch (err) {
        this.lastError = (err as Error).message;
        this.latest = { monoMs: performance.now(), apps: [], error: this.lastError };
      }
      return this.latest;
    })().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** Starts a query when the latest list is older than maxAgeMs (and none is running); never waits. */
  refreshIfStale(maxAgeMs: number): void {
    if (this.inflight || (this.latest && performance.now() - this.latest.monoMs < maxAgeMs)) return;
    void this.snapshot();
  }

  /** A query in flight, if any (a close waits for it rather than use an older list). */
  pending(): Promise<GpuAppsSnapshot> | null {
    return this.inflight;
  }

  /** One driver query for every tracked run. Returns the runs whose GPU set grew. */
  async refresh(): Promise<string[]> {
    if (this.runs.size === 0) return [];
    const { apps, error } = await this.snapshot();
    if (error || apps.length === 0) return [];
    const grown: string[] = [];
    for (const [runId, entry] of this.runs) {
      const tree = new Set(this.proc.tree(entry.pid));
      const before = entry.gpuIds.size;
      for (const app of apps) if (tree.has(app.pid)) entry.gpuIds.add(app.gpuIndex);
      if (entry.gpuIds.size > before) grown.push(runId);
    }
    return grown;
  }
}
