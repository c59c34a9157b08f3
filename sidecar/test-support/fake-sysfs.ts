/** Builds fake powercap/proc/cgroup trees in a temporary directory: the hardware boundary for tests. */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const INTEL_RANGE_UJ = 262_143_328_850;
export const AMD_RANGE_UJ = 65_532_610_987;

export interface FakeZone {
  zone: string;
  name: string;
  energyUj: number;
  maxRangeUj?: number;
}

/** Fixed width (padded before the newline), so in-place rewrites never leave stale digits. */
function counterText(energyUj: number): string {
  return `${String(energyUj).padEnd(24)}\n`;
}

export class FakeRoot {
  readonly root = mkdtempSync(join(tmpdir(), 'pnav-fake-'));

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  write(rel: string, content: string): string {
    const path = this.path(rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  /** A zone under sys/class/powercap, flat as the kernel lists them. */
  zone(z: FakeZone): void {
    const base = `sys/class/powercap/${z.zone}`;
    this.write(`${base}/name`, `${z.name}\n`);
    this.write(`${base}/energy_uj`, counterText(z.energyUj));
    this.write(`${base}/max_energy_range_uj`, `${z.maxRangeUj ?? INTEL_RANGE_UJ}\n`);
  }

  /**
   * Rewrites a counter in place with one fixed-width write (no truncation, no rename), so a reader
   * in another process, which keeps the file open as on sysfs, never sees an empty or stale file.
   */
  setEnergy(zone: string, energyUj: number): void {
    const fd = openSync(this.path(`sys/class/powercap/${zone}/energy_uj`), 'r+');
    try {
      writeSync(fd, counterText(energyUj), 0);
    } finally {
      closeSync(fd);
    }
  }

  get sysfsRoot(): string {
    return this.path('sys');
  }

  get procRoot(): string {
    return this.path('proc');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A /proc/stat with `cpus` CPUs whose aggregate line has the given busy and idle jiffies. */
export function procStat(cpus: number, busyJiffies: number, idleJiffies: number): string {
  const lines = [`cpu  ${busyJiffies} 0 0 ${idleJiffies} 0 0 0 0 0 0`];
  for (let i = 0; i < cpus; i++) lines.push(`cpu${i} 0 0 0 0 0 0 0 0 0 0`);
  lines.push('intr 0', 'ctxt 0', 'btime 0', 'processes 1', 'procs_running 1', 'procs_blocked 0');
  return `${lines.join('\n')}\n`;
}
