/** GPU candidates in order of preference (nvml > nvidia-smi), with the inventory. */
import type { PowerSource } from './source.js';

export interface GpuOptions {
  gpuIds?: number[];
  nvidiaSmiPath?: string;
  env: NodeJS.ProcessEnv;
  systemInfo: boolean;
}

export interface GpuDiscovery {
  candidates: PowerSource[];
  gpuCount: number;
  gpuModel: string | null;
  /** Why there is no GPU source, when there is none. */
  noneReason: string;
}

export async function discoverGpus(_opts: GpuOptions): Promise<GpuDiscovery> {
  return { candidates: [], gpuCount: 0, gpuModel: null, noneReason: 'no NVIDIA GPU found' };
}
