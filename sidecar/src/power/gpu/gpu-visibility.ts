/**
 * Which GPUs the sidecar samples. Explicit `--gpu-ids` (nvidia-smi / NVML indices) win; otherwise
 * CUDA_VISIBLE_DEVICES, read the way CUDA reads it (indices or `GPU-<uuid>` prefixes, the list ends at
 * the first invalid entry, an empty value hides every GPU); otherwise every GPU.
 */
export interface GpuIdentity {
  index: number;
  uuid: string | null;
  name: string;
}

export interface GpuSelection {
  selected: GpuIdentity[];
  /** How the selection was made, for status and doctor. */
  rule: string;
}

export function selectGpus(all: GpuIdentity[], gpuIds: number[] | undefined, env: NodeJS.ProcessEnv): GpuSelection {
  if (gpuIds && gpuIds.length > 0) {
    return { selected: all.filter(g => gpuIds.includes(g.index)), rule: `--gpu-ids ${gpuIds.join(',')}` };
  }
  const cvd = env.CUDA_VISIBLE_DEVICES;
  if (cvd === undefined) return { selected: all, rule: 'all GPUs' };
  const selected: GpuIdentity[] = [];
  for (const raw of cvd.split(',').map(s => s.trim())) {
    const match = /^\d+$/.test(raw)
      ? all.find(g => g.index === Number(raw))
      : raw.startsWith('GPU-')
        ? all.find(g => g.uuid?.startsWith(raw))
        : undefined;
    if (!match) break; // CUDA ignores everything from the first invalid entry on
    if (!selected.includes(match)) selected.push(match);
  }
  return { selected, rule: `CUDA_VISIBLE_DEVICES=${cvd}` };
}
