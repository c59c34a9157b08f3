/**
 * Attribution of machine energy to a kernel's process tree by CPU time (method
 * 'cpu-time-share'): share = CPU time of the tree / busy CPU time of the machine over the
 * same window. An attribution, not a measurement: RAPL and NVML count the whole machine.
 * Reads /proc under a configurable root so tests can use a fake tree.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface CpuSnapshot {
  /** utime+stime+cutime+cstime summed over the tree, in clock ticks. */
  treeTicks: number;
  /** Busy ticks of all CPUs (user+nice+system+irq+softirq+steal) from /proc/stat. */
  machineBusyTicks: number;
}

export class ProcReader {
  constructor(private readonly procRoot: string) {}

  snapshot(pid: number): CpuSnapshot | null {
    const machineBusyTicks = this.machineBusyTicks();
    if (machineBusyTicks === null) return null;
    let treeTicks = 0;
    let found = false;
    for (const p of this.tree(pid)) {
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
