/**
 * GPU candidates in order of preference — NVML's energy counter, then one streaming nvidia-smi —
 * and the inventory for status (count and model of the selected GPUs, calculadorapnav style).
 */

import type { PowerSource } from '../source.js';
import { type GpuIdentity, selectGpus } from './gpu-visibility.js';
import { readNvidiaInventory } from './nvidia-inventory.js';
import { NvidiaSmiSource } from './nvidia-smi.js';
import { NvmlSource } from './nvml.js';

export interface GpuOptions {
  gpuIds?: number[];
  nvidiaSmiPath?: string;
  /** Path of libnvidia-ml (default: libnvidia-ml.so.1 through the dynamic loader). */
  nvmlLibPath?: string;
  env: NodeJS.ProcessEnv;
  systemInfo: boolean;
  /** nvidia-smi streaming period. */
  smiIntervalMs?: number;
}

export interface GpuDiscovery {
  candidates: PowerSource[];
  gpuCount: number;
  gpuModel: string | null;
  /** Why there is no GPU source, when there is none. */
  noneReason: string;
  /** Every GPU of the machine (with MIG instances), to map a kernel's CUDA_VISIBLE_DEVICES UUIDs. */
  inventory: GpuIdentity[];
  /** What the sidecar's GPU figures cover: 'whole GPU', or the MIG note when it was given a slice. */
  scope: string;
}

/** "2 x NVIDIA H100 80GB HBM3, 1 x NVIDIA A100" — calculadorapnav's gpu_model, groups separated. */
export function gpuModelLabel(gpus: GpuIdentity[]): string | null {
  if (gpus.length === 0) return null;
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${n} x ${name}`).join(', ');
}

export async function discoverGpus(opts: GpuOptions): Promise<GpuDiscovery> {
  const smiPath = opts.nvidiaSmiPath ?? 'nvidia-smi';
  const inventory = await readNvidiaInventory(smiPath, opts.systemInfo);
  const { selected, rule, scope } = selectGpus(inventory.gpus, opts.gpuIds, opts.env);
  // NVML lists no MIG instances: the inventory's (by UUID, else index) let CUDA_VISIBLE_DEVICES name them.
  const withMigs = (all: GpuIdentity[]): GpuIdentity[] =>
    all.map(g => {
      const known = inventory.gpus.find(i => (g.uuid && i.uuid === g.uuid) || (!g.uuid && i.index === g.index));
      return known?.migUuids ? { ...g, migUuids: known.migUuids } : g;
    });
  const nvml = new NvmlSource({
    libPath: opts.nvmlLibPath,
    select: all => selectGpus(withMigs(all), opts.gpuIds, opts.env),
  });
  const smi = new NvidiaSmiSource({
    smiPath,
    gpus: selected,
    rule,
    noneReason: inventory.reason,
    intervalMs: opts.smiIntervalMs,
  });
  const noneReason =
    inventory.gpus.length === 0
      ? (inventory.reason ?? 'no NVIDIA GPU found')
      : selected.length === 0
        ? `no GPU selected (${rule}) among ${inventory.gpus.length}`
        : 'no usable GPU power source';
  return {
    candidates: [nvml, smi],
    gpuCount: selected.length,
    gpuModel: gpuModelLabel(selected),
    noneReason,
    inventory: inventory.gpus,
    scope,
  };
}
