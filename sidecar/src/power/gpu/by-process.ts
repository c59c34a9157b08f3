/**
 * GPU scope 'by-process' (CarbonTracker's devices_by_pid): a run counts only the GPUs on which
 * the kernel's own process tree has compute processes, as NVIDIA's driver reports them.
 * One short nvidia-smi query per refresh serves every tracked run; GPUs found are kept for the
 * rest of the run (a process that freed its GPU still used it inside the window).
 */
import { execFile } from 'node:child_process';
import { ProcReader } from '../host/process-shares.js';

export interface ComputeApp {
  pid: number;
  gpuUuid: string;
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

/** `nvidia-smi --query-compute-apps=pid,gpu_uuid`: one row per process using a GPU. */
export async function queryComputeApps(nvidiaSmiPath: string): Promise<ComputeApp[]> {
  const out = await run(nvidiaSmiPath, ['--query-compute-apps=pid,gpu_uuid', '--format=csv,noheader']);
  return csvRows(out)
    .filter(([pid, uuid]) => /^\d+$/.test(pid ?? '') && uuid)
    .map(([pid, uuid]) => ({ pid: Number(pid), gpuUuid: uuid! }));
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

/**
 * Maps CUDA_VISIBLE_DEVICES entries that are UUIDs (GPU-…) to indices; numeric entries pass through.
 * Returns null when an entry cannot be mapped (a MIG instance, an unknown UUID): count every GPU then.
 */
export async function visibleDevicesToIndices(nvidiaSmiPath: string, text: string): Promise<number[] | null> {
  const entries = text.split(',').map(s => s.trim());
  if (entries.every(e => /^\d+$/.test(e))) return entries.map(Number);
  let indexOf: Map<string, number>;
  try {
    indexOf = await queryGpuIndices(nvidiaSmiPath);
  } catch {
    return null;
  }
  const ids: number[] = [];
  for (const entry of entries) {
    const index = /^\d+$/.test(entry) ? Number(entry) : uuidIndex(indexOf, entry);
    if (index === undefined) return null;
    ids.push(index);
  }
  return ids;
}

/** CUDA accepts a unique UUID prefix (GPU-8f3a...). */
function uuidIndex(indexOf: Map<string, number>, entry: string): number | undefined {
  const matches = [...indexOf.entries()].filter(([uuid]) => uuid.startsWith(entry));
  return matches.length === 1 ? matches[0]![1] : undefined;
}

/** Tracks open runs in 'by-process' mode: which GPUs each kernel's process tree has used so far. */
export class ByProcessGpuScope {
  private readonly runs = new Map<string, { pid: number; gpuIds: Set<number> }>();
  private readonly proc: ProcReader;
  lastError: string | null = null;

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

  /** One driver query for every tracked run. Returns the runs whose GPU set grew. */
  async refresh(): Promise<string[]> {
    if (this.runs.size === 0) return [];
    let apps: ComputeApp[];
    try {
      apps = await queryComputeApps(this.nvidiaSmiPath);
      this.lastError = null;
    } catch (err) {
      this.lastError = (err as Error).message;
      return [];
    }
    if (apps.length === 0) return [];
    let indexOf: Map<string, number> | null = null;
    const grown: string[] = [];
    for (const [runId, entry] of this.runs) {
      const tree = new Set(this.proc.tree(entry.pid));
      const mine = apps.filter(a => tree.has(a.pid));
      if (mine.length === 0) continue;
      indexOf ??= await queryGpuIndices(this.nvidiaSmiPath).catch(() => new Map<string, number>());
      const before = entry.gpuIds.size;
      for (const app of mine) {
        const index = indexOf.get(app.gpuUuid);
        if (index !== undefined) entry.gpuIds.add(index);
      }
      if (entry.gpuIds.size > before) grown.push(runId);
    }
    return grown;
  }
}
