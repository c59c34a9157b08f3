/**
 * Attribution of machine energy to a kernel's process tree, per component, each on its own basis:
 * - CPU by CPU time: tree ticks / busy ticks of the machine over the window;
 * - GPU by GPU use: on each counted GPU, the tree's share of the compute processes' GPU memory
 *   (nvidia-smi --query-compute-apps used_memory), times that GPU's energy;
 * - RAM by resident memory: the tree's proportional set size (PSS, or RSS where smaps_rollup is
 *   unreadable) / the machine's used memory, as the mean of the window's two snapshots.
 * Processes of different kernels are disjoint and PSS splits shared pages, so the shares of all
 * runs over one window never exceed the whole. An attribution, not a measurement: RAPL and NVML
 * count whole devices. Reads /proc under a configurable root so tests can use a fake tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AttributedShare, EnergyBreakdown } from '../../api/schemas.js';

export interface CpuSnapshot {
  /** utime+stime+cutime+cstime summed over the tree, in clock ticks. */
  treeTicks: number;
  /** Busy ticks of all CPUs (user+nice+system+irq+softirq+steal) from /proc/stat. */
  machineBusyTicks: number;
}

/** How long a process's memory reading stands for the present (see residentBytes). */
export const MEMORY_MAX_AGE_MS = 5000;

export class ProcReader {
  private readonly memory = new Map<number, { atMs: number; kb: number; pss: boolean }>();

  constructor(private readonly procRoot: string) {}

  snapshot(pid: number, pids: readonly number[] = this.tree(pid)): CpuSnapshot | null {
    const machineBusyTicks = this.machineBusyTicks();
    if (machineBusyTicks === null) return null;
    let treeTicks = 0;
    let found = false;
    for (const p of pids) {
      const stat = this.readStat(p);
      if (!stat) continue;
      found = true;
      treeTicks += stat.ticks;
    }
    return found ? { treeTicks, machineBusyTicks } : null;
  }

  /** The pid and its descendants, via task/<tid>/children, else a scan of /proc. */
  tree(pid: number): number[] {
    const out: number[] = [];
    const queue = [pid];
    let children: Map<number, number[]> | null = null;
    while (queue.length > 0 && out.length < 10_000) {
      const p = queue.shift()!;
      out.push(p);
      let kids = this.childrenFromTasks(p);
      if (kids === null) {
        children ??= this.scanChildren();
        kids = children.get(p) ?? [];
      }
      queue.push(...kids);
    }
    return out;
  }

  private childrenFromTasks(pid: number): number[] | null {
    const taskDir = path.join(this.procRoot, String(pid), 'task');
    let tids: string[];
    try {
      tids = fs.readdirSync(taskDir);
    } catch {
      return null;
    }
    const kids: number[] = [];
    for (const tid of tids) {
      let text: string;
      try {
        text = fs.readFileSync(path.join(taskDir, tid, 'children'), 'utf8');
      } catch {
        return null; // kernel without CONFIG_PROC_CHILDREN: scan instead
      }
      for (const s of text.split(/\s+/)) if (s !== '') kids.push(Number(s));
    }
    return kids;
  }

  private scanChildren(): Map<number, number[]> {
    const map = new Map<number, number[]>();
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(this.procRoot);
    } catch {
      return map;
    }
    for (const name of entries) {
      if (!/^\d+$/.test(name)) continue;
      const stat = this.readStat(Number(name));
      if (!stat) continue;
      const list = map.get(stat.ppid) ?? [];
      list.push(Number(name));
      map.set(stat.ppid, list);
    }
    return map;
  }

  readStat(pid: number): { ppid: number; ticks: number } | null {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.procRoot, String(pid), 'stat'), 'utf8');
    } catch {
      return null;
    }
    // comm may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (i: number) => Number(fields[i]) || 0;
    // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    return { ppid: num(1), ticks: num(11) + num(12) + num(13) + num(14) };
  }

  /**
   * Memory of the tree: summed PSS (smaps_rollup), else VmRSS, in bytes; null when no process is readable.
   * Reading smaps_rollup walks every mapping of the process (1–10 ms for a large kernel on a busy machine,
   * and every run open and close needs it), so a process's reading stands for up to MEMORY_MAX_AGE_MS:
   * a kernel's memory moves slowly next to the cells that come and go.
   */
  residentBytes(pids: readonly number[]): { bytes: number; kind: 'PSS' | 'RSS' } | null {
    let bytes = 0;
    let found = false;
    let kind: 'PSS' | 'RSS' = 'PSS';
    const now = performance.now();
    for (const pid of pids) {
      let memory = this.memory.get(pid);
      if (!memory || now - memory.atMs > MEMORY_MAX_AGE_MS) {
        const pss = this.kbField(path.join(this.procRoot, String(pid), 'smaps_rollup'), 'Pss');
        const kb = pss ?? this.kbField(path.join(this.procRoot, String(pid), 'status'), 'VmRSS');
        if (kb === null) {
          this.memory.delete(pid);
          continue;
        }
        if (this.memory.size >= 1024) this.memory.clear(); // pids come and go: never grow without bound
        memory = { atMs: now, kb, pss: pss !== null };
        this.memory.set(pid, memory);
      }
      if (!memory.pss) kind = 'RSS';
      found = true;
      bytes += memory.kb * 1024;
    }
    return found ? { bytes, kind } : null;
  }

  /** MemTotal − MemAvailable: the memory in use on the machine, in bytes. */
  usedMemoryBytes(): number | null {
    const meminfo = path.join(this.procRoot, 'meminfo');
    const total = this.kbField(meminfo, 'MemTotal');
    const available = this.kbField(meminfo, 'MemAvailable') ?? this.kbField(meminfo, 'MemFree');
    return total === null || available === null ? null : Math.max(0, total - available) * 1024;
  }

  private kbField(file: string, field: string): number | null {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  }

  machineBusyTicks(): number | null {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.procRoot, 'stat'), 'utf8');
    } catch {
      return null;
    }
    const line = text.split('\n').find(l => l.startsWith('cpu '));
    if (!line) return null;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    return (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
  }
}

/** Share of the machine's busy CPU time used by the tree between two snapshots, in 0..1. */
export function cpuTimeShare(start: CpuSnapshot, end: CpuSnapshot): number {
  const machine = end.machineBusyTicks - start.machineBusyTicks;
  const tree = end.treeTicks - start.treeTicks;
  if (machine <= 0 || tree <= 0) return 0;
  return Math.min(1, tree / machine);
}

/** What the kernel's tree held at one instant: CPU ticks, memory, and its pids (for GPU processes). */
export interface KernelSnapshot {
  cpu: CpuSnapshot | null;
  residentBytes: number | null;
  residentKind: 'PSS' | 'RSS';
  usedMemoryBytes: number | null;
  pids: number[];
}

export function kernelSnapshot(proc: ProcReader, pid: number): KernelSnapshot | null {
  const pids = proc.tree(pid);
  const cpu = proc.snapshot(pid, pids);
  const resident = proc.residentBytes(pids);
  if (!cpu && !resident) return null;
  return {
    cpu,
    residentBytes: resident?.bytes ?? null,
    residentKind: resident?.kind ?? 'RSS',
    usedMemoryBytes: proc.usedMemoryBytes(),
    pids,
  };
}

/** One GPU compute process as the driver reports it. */
export interface GpuApp {
  pid: number;
  gpuIndex: number;
  /** used_memory in MiB, null where the driver says [N/A]. */
  usedMemoryMiB: number | null;
}

export interface GpuUse {
  apps: GpuApp[];
  /** Why the driver could not be asked (the GPU share is then unavailable), else null. */
  error: string | null;
  /** When the process list was taken relative to the window's end, in s (positive: after it). */
  ageS: number;
}

export interface AttributionInputs {
  energy: EnergyBreakdown;
  /** Window energy of each counted GPU, by index. */
  gpuWindowJ: ReadonlyMap<number, number>;
  start: KernelSnapshot;
  end: KernelSnapshot | null;
  gpu: GpuUse | null;
}

export interface ComponentShares {
  cpu: AttributedShare;
  gpu: AttributedShare;
  ram: AttributedShare;
}

function excluded(detail: string): AttributedShare {
  return { basis: 'excluded', share: 0, energyJ: 0, detail };
}

function unavailable(detail: string): AttributedShare {
  return { basis: 'unavailable', share: 0, energyJ: 0, detail };
}

function present(energy: EnergyBreakdown, c: 'cpu' | 'gpu' | 'ram'): boolean {
  return energy[c].included && energy[c].method !== 'none';
}

export function attributeCpu(i: AttributionInputs): AttributedShare {
  if (!present(i.energy, 'cpu')) return excluded('CPU not counted by this run');
  const a = i.start.cpu;
  const b = i.end?.cpu;
  if (!a || !b) return unavailable(`no /proc CPU times for the kernel's processes`);
  const share = cpuTimeShare(a, b);
  return {
    basis: 'cpu-time',
    share,
    energyJ: share * i.energy.cpu.energyJ,
    detail: `${b.treeTicks - a.treeTicks} of ${b.machineBusyTicks - a.machineBusyTicks} busy CPU ticks`,
  };
}

export function attributeRam(i: AttributionInputs): AttributedShare {
  if (!present(i.energy, 'ram')) return excluded('RAM not counted by this run');
  const snaps = [i.start, i.end].filter((s): s is KernelSnapshot => s !== null);
  const resident = snaps.map(s => s.residentBytes).filter((b): b is number => b !== null);
  const used = snaps.map(s => s.usedMemoryBytes).filter((b): b is number => b !== null);
  if (resident.length === 0 || used.length === 0) return unavailable('no /proc memory figures for the kernel');
  const meanResident = resident.reduce((x, y) => x + y, 0) / resident.length;
  const meanUsed = used.reduce((x, y) => x + y, 0) / used.length;
  const share = meanUsed > 0 ? Math.min(1, meanResident / meanUsed) : 0;
  const kind = i.end?.residentKind ?? i.start.residentKind;
  const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
  return {
    basis: 'resident-memory',
    share,
    energyJ: share * i.energy.ram.energyJ,
    detail: `${kind} ${gib(meanResident)} GiB of ${gib(meanUsed)} GiB in use`,
  };
}

export function attributeGpu(i: AttributionInputs): AttributedShare {
  if (!present(i.energy, 'gpu')) return excluded('no GPU counted by this run');
  if (!i.gpu) return unavailable('no GPU process list');
  if (i.gpu.error) return unavailable(`GPU processes unknown: ${i.gpu.error}`);
  const pids = new Set([...i.start.pids, ...(i.end?.pids ?? [])]);
  let energyJ = 0;
  let totalJ = 0;
  const parts: string[] = [];
  for (const [index, gpuJ] of i.gpuWindowJ) {
    totalJ += gpuJ;
    const onGpu = i.gpu.apps.filter(a => a.gpuIndex === index);
    const all = onGpu.reduce((sum, a) => sum + (a.usedMemoryMiB ?? 0), 0);
    const mine = onGpu.filter(a => pids.has(a.pid)).reduce((sum, a) => sum + (a.usedMemoryMiB ?? 0), 0);
    const share = all > 0 ? mine / all : 0;
    energyJ += share * gpuJ;
    if (onGpu.length > 0) parts.push(`GPU ${index}: ${mine} of ${all} MiB`);
  }
  return {
    basis: 'gpu-memory',
    share: totalJ > 0 ? energyJ / totalJ : 0,
    energyJ,
    detail: `${parts.length ? parts.join(', ') : 'no compute process of the kernel'} (compute-app memory, listed ${Math.abs(i.gpu.ageS).toFixed(1)} s ${i.gpu.ageS >= 0 ? 'after' : 'before'} the window's end)`,
  };
}

export function attributeWindow(i: AttributionInputs): ComponentShares {
  return { cpu: attributeCpu(i), gpu: attributeGpu(i), ram: attributeRam(i) };
}
