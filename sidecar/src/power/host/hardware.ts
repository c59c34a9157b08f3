/**
 * The machine inventory, read once at startup: CPU model and sockets, logical CPUs and memory from
 * <procRoot> (fast, and testable with a fake tree), DIMMs from systeminformation (slow: dmidecode),
 * under a timeout so a hung probe never delays the sidecar.
 */
import { readFileSync } from 'node:fs';
import { arch as osArch, cpus as osCpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { CpuArch, DimmInfo } from '../ram/ram-model.js';
import { withSystemInformation } from './system-info.js';

export interface MachineInventory {
  cpuModel: string;
  sockets: number;
  cpuCount: number;
  totalMemBytes: number;
  arch: CpuArch;
}

/** Number of `cpuN` lines in /proc/stat: the logical CPUs the kernel reports. */
export function countProcStatCpus(text: string): number {
  return text.split('\n').filter(l => /^cpu\d+\s/.test(l)).length;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function readInventory(procRoot: string): MachineInventory {
  const cpuinfo = readText(join(procRoot, 'cpuinfo')) ?? '';
  const field = (name: string) =>
    cpuinfo
      .split('\n')
      .filter(l => l.startsWith(name))
      .map(l => l.slice(l.indexOf(':') + 1).trim());
  const cpuModel = field('model name')[0] ?? osCpus()[0]?.model ?? 'unknown CPU';
  const sockets = Math.max(1, new Set(field('physical id')).size);
  const stat = readText(join(procRoot, 'stat'));
  const cpuCount = (stat && countProcStatCpus(stat)) || osCpus().length || 1;
  const memKb = Number(/^MemTotal:\s+(\d+)\s+kB/m.exec(readText(join(procRoot, 'meminfo')) ?? '')?.[1]);
  const totalMemBytes = Number.isFinite(memKb) && memKb > 0 ? memKb * 1024 : totalmem();
  const arch: CpuArch = /^(arm|aarch)/.test(osArch()) ? 'arm' : 'x86';
  return { cpuModel, sockets, cpuCount, totalMemBytes, arch };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
    promise.then(
      value => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

/** Populated DIMMs as systeminformation reports them; empty when unknown or too slow. */
export async function readDimms(timeoutMs = 5000): Promise<DimmInfo[]> {
  const layout = await withSystemInformation(si => withTimeout(si.memLayout(), timeoutMs, []));
  return layout.filter(d => d.size > 0).map(d => ({ sizeBytes: d.size, type: d.type || 'Unknown' }));
}
