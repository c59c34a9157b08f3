/**
 * RAM power model (an estimate; RAPL `dram` counters, where present, replace it).
 *
 * - DIMM count known (systeminformation memLayout()): CodeCarbon v3 (codecarbon/external/ram.py,
 *   measurement.md §2): 5 W per DIMM on x86 (1.5 W on ARM); DIMMs 5–8 count 90 %, 9–16 80 %,
 *   17+ 70 %; floor 10 W (x86) / 3 W (ARM). The DIMM type (DDR3/4/5) is reported but does not
 *   change the figure: the reference gives no per-type factor.
 * - Otherwise: 3 W per 8 GB = 0.375 W/GB (CodeCarbon v2, what calculadorapnav uses, §5.3).
 * When the scope limits memory (cgroup memory.max, SLURM), the machine figure is scaled by the
 * limit's share of the machine's memory (per-GB: the limit itself is used).
 */
import type { PowerSource, ProbeResult, SourceReading } from '../source.js';

export const RAM_W_PER_GB = 3 / 8;
const DIMM_W = { x86: 5, arm: 1.5 } as const;
const FLOOR_W = { x86: 10, arm: 3 } as const;

export type CpuArch = keyof typeof DIMM_W;

export function ramPowerPerGbW(memGB: number): number {
  return memGB * RAM_W_PER_GB;
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
  description: string;
  memGB: number;
  dimmCount: number | null;
  dimmType: string | null;
}

const GiB = 1024 ** 3;

export function ramModel(input: RamModelInput): RamModel {
  const limited = input.memLimitBytes !== null && input.memLimitBytes < input.totalMemBytes;
  const memBytes = limited ? input.memLimitBytes! : input.totalMemBytes;
  const memGB = memBytes / GiB;
  // Only modules with a DDR type are real DIMM facts: without dmidecode rights, or in a VM,
  // systeminformation reports one untyped pseudo-module holding the total.
  const dimms = input.dimms.filter(d => d.sizeBytes > 0 && /DDR/i.test(d.type));
  const types = [...new Set(dimms.map(d => d.type).filter(t => t && t !== 'Unknown'))];
  const dimmType = types.length ? types.join('/') : null;
  if (dimms.length > 0) {
    const machineW = ramPowerPerDimmW(dimms.length, input.arch);
    const share = limited ? memBytes / input.totalMemBytes : 1;
    return {
      powerW: machineW * share,
      description: `${dimms.length} DIMM${dimms.length > 1 ? 's' : ''}${dimmType ? ` ${dimmType}` : ''} × ${DIMM_W[input.arch]} W (CodeCarbon v3 per-DIMM model, floor ${FLOOR_W[input.arch]} W): ${machineW.toFixed(1)} W${limited ? ` × ${share.toFixed(3)} (memory limit ${memGB.toFixed(1)} GB)` : ''}`,
      memGB,
      dimmCount: dimms.length,
      dimmType,
    };
  }
  return {
    powerW: ramPowerPerGbW(memGB),
    description: `${memGB.toFixed(1)} GB${limited ? ' (memory limit)' : ''} × 0.375 W/GB (3 W per 8 GB, CodeCarbon v2 / calculadorapnav; DIMMs not reported)`,
    memGB,
    dimmCount: null,
    dimmType,
  };
}

export class RamModelSource implements PowerSource {
  readonly id = 'ram-model';
  readonly component = 'ram' as const;
  readonly method = 'ram-model' as const;
  readonly measured = false;
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
