/**
 * RAM power model (an estimate; RAPL `dram` counters, where present, replace it).
 *
 * CodeCarbon 3's model (mlco2/codecarbon, codecarbon/external/ram.py at 02d69a5, `_estimate_dimm_count`
 * and `_calculate_ram_power`): 5 W per DIMM on x86 (1.5 W on ARM); DIMMs 5–8 count 90 %, 9–16 80 %,
 * 17+ 70 %; floor 10 W (x86) / 3 W (ARM). The DIMM count is the one the machine reports (DDR-typed
 * modules from systeminformation) or, without that (the normal case without root, and in VMs),
 * CodeCarbon 3's guess from the memory size. A flat 0.375 W/GB (CodeCarbon 2) charged a 2 TiB node
 * 768 W of RAM, more than its CPUs; the DIMM estimate keeps it near 70 W.
 * When the scope limits memory (cgroup memory.max, SLURM), the machine figure is scaled by the
 * limit's share of the machine's memory.
 */
import type { PowerSource, ProbeResult, SourceReading } from '../source.js';

/** CodeCarbon 2's flat rate (3 W per 8 GB), kept only for comparison in tests and docs. */
export const RAM_W_PER_GB_CODECARBON_2 = 3 / 8;
const DIMM_W = { x86: 5, arm: 1.5 } as const;
const FLOOR_W = { x86: 10, arm: 3 } as const;
/** The DIMM sizes CodeCarbon 3 tries, largest first, for servers over 128 GB. */
const SERVER_DIMM_SIZES_GB = [128, 64, 32, 16, 8, 4] as const;
const MAX_ESTIMATED_DIMMS = 32;

export type CpuArch = keyof typeof DIMM_W;

/**
 * CodeCarbon 3's DIMM count for a memory size in GiB: 1 up to 2 GB, 2 up to 16 GB, 4 up to 64 GB,
 * 8 up to 128 GB; beyond, the largest common DIMM size that still gives at least 8 DIMMs, capped at 32.
 */
export function estimateDimmCount(memGB: number): number {
  if (memGB <= 2) return 1;
  if (memGB <= 16) return 2;
  if (memGB <= 32) return 4;
  if (memGB <= 64) return 4;
  if (memGB <= 128) return 8;
  const size = SERVER_DIMM_SIZES_GB.find(s => s <= memGB / 8);
  return size === undefined ? 8 : Math.min(Math.ceil(memGB / size), MAX_ESTIMATED_DIMMS);
}

export function ramPowerPerDimmW(dimmCount: number, arch: CpuArch = 'x86'): number {
  const base = DIMM_W[arch];
  let total = 0;
  for (let i = 1; i <= dimmCount; i++) total += base * (i <= 4 ? 1 : i <= 8 ? 0.9 : i <= 16 ? 0.8 : 0.7);
  return Math.max(total, FLOOR_W[arch]);
}

export interface DimmInfo {
  sizeBytes: number;
  type: string;
}

export interface RamModelInput {
  totalMemBytes: number;
  /** Scope memory limit, or null for the whole machine. */
  memLimitBytes: number | null;
  /** Populated DIMMs, empty when the machine does not report them (VMs, no dmidecode rights). */
  dimms: DimmInfo[];
  arch: CpuArch;
}

export interface RamModel {
  powerW: number;
  /** The figure and every input it came from, for status, doctor and the methods outputs. */
  description: string;
  memGB: number;
  dimmCount: number;
  /** Whether the DIMM count was reported by the machine or estimated from the memory size. */
  dimmCountSource: 'reported' | 'estimated-from-size';
  dimmType: string | null;
}

const GiB = 1024 ** 3;

export function ramModel(input: RamModelInput): RamModel {
  const limited = input.memLimitBytes !== null && input.memLimitBytes < input.totalMemBytes;
  const machineGB = input.totalMemBytes / GiB;
  const memGB = limited ? input.memLimitBytes! / GiB : machineGB;
  // Only modules with a DDR type are real DIMM facts: without dmidecode rights, or in a VM,
  // systeminformation reports one untyped pseudo-module holding the total.
  const dimms = input.dimms.filter(d => d.sizeBytes > 0 && /DDR/i.test(d.type));
  const types = [...new Set(dimms.map(d => d.type).filter(t => t && t !== 'Unknown'))];
  const dimmType = types.length ? types.join('/') : null;
  const reported = dimms.length > 0;
  const dimmCount = reported ? dimms.length : estimateDimmCount(machineGB);
  const machineW = ramPowerPerDimmW(dimmCount, input.arch);
  const share = limited ? memGB / machineGB : 1;
  const count = reported
    ? `${dimmCount} DIMM${dimmCount > 1 ? 's' : ''}${dimmType ? ` ${dimmType}` : ''} reported`
    : `${dimmCount} DIMM${dimmCount > 1 ? 's' : ''} estimated from ${machineGB.toFixed(1)} GB (CodeCarbon 3 DIMM-count estimate)`;
  return {
    powerW: machineW * share,
    description: `${count} × ${DIMM_W[input.arch]} W, 90/80/70 % beyond 4/8/16 DIMMs, floor ${FLOOR_W[input.arch]} W (CodeCarbon 3 RAM model): ${machineW.toFixed(1)} W${limited ? ` × ${share.toFixed(3)} (memory limit ${memGB.toFixed(1)} GB)` : ''}`,
    memGB,
    dimmCount,
    dimmCountSource: reported ? 'reported' : 'estimated-from-size',
    dimmType,
  };
}

export class RamModelSource implements PowerSource {
  readonly id = 'ram-model';
  readonly component = 'ram' as const;
  readonly method = 'ram-model' as const;
  readonly measured = false;
  /** A constant power integrated exactly: never coarse. */
  readonly updatePeriodMs = 0;
  private startMonoMs: number | null = null;

  constructor(readonly model: RamModel) {}

  async probe(): Promise<ProbeResult> {
    return { available: true, detail: `estimate ${this.model.powerW.toFixed(2)} W: ${this.model.description}` };
  }

  async start(): Promise<void> {
    this.startMonoMs ??= performance.now();
  }

  read(): SourceReading {
    const monoMs = performance.now();
    const energyJ = this.startMonoMs === null ? 0 : (this.model.powerW * (monoMs - this.startMonoMs)) / 1000;
    const powerW = this.model.powerW;
    return { monoMs, energyJ, powerW, devices: [{ deviceId: 'ram', energyJ, powerW }] };
  }

  async stop(): Promise<void> {}

  devices(): { id: string; name: string }[] {
    return [
      {
        id: 'ram',
        name: `RAM ${this.model.memGB.toFixed(1)} GB${this.model.dimmType ? ` ${this.model.dimmType}` : ''}`,
      },
    ];
  }
}
