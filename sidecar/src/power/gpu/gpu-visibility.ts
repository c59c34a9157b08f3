/**
 * Which GPUs a CUDA_VISIBLE_DEVICES value names, read the way CUDA reads it: indices, `GPU-<uuid>`
 * (unique prefixes too) and `MIG-<uuid>` (or the older `MIG-GPU-<uuid>/<gi>/<ci>`) entries; the list
 * ends at the first invalid entry; an empty value hides every GPU. A MIG slice has no energy counter
 * of its own: it is measured as its parent GPU, and the scope says so.
 * For the sidecar's own sampling, explicit `--gpu-ids` (nvidia-smi / NVML indices) win over it.
 */
export interface GpuIdentity {
  index: number;
  uuid: string | null;
  name: string;
  /** UUIDs of the MIG instances of this GPU (from `nvidia-smi -L`), when MIG is enabled. */
  migUuids?: string[];
}

export const MIG_SCOPE = 'whole GPU (MIG slice not separable)';

export interface VisibleGpus {
  /** The GPUs named, in CUDA's order, each once; MIG entries give their parent GPU. */
  gpus: GpuIdentity[];
  /** What each GPU figure covers: 'whole GPU' or MIG_SCOPE when a MIG slice was named. */
  scope: string;
  /** The entry at which CUDA stops reading (unknown index or UUID), or null. */
  stoppedAt: string | null;
}

/** The GPU an entry names, or undefined when CUDA would stop there. */
function gpuOfEntry(all: GpuIdentity[], entry: string): { gpu: GpuIdentity; mig: boolean } | undefined {
  if (/^\d+$/.test(entry)) {
    const gpu = all.find(g => g.index === Number(entry));
    return gpu && { gpu, mig: false };
  }
  if (entry.startsWith('GPU-')) {
    const matches = all.filter(g => g.uuid?.startsWith(entry));
    return matches.length === 1 ? { gpu: matches[0]!, mig: false } : undefined;
  }
  if (entry.startsWith('MIG-GPU-')) {
    const parentUuid = entry.slice('MIG-'.length).split('/')[0]!;
    const gpu = all.find(g => g.uuid === parentUuid);
    return gpu && { gpu, mig: true };
  }
  if (entry.startsWith('MIG-')) {
    const matches = all.filter(g => g.migUuids?.some(m => m.startsWith(entry)));
    return matches.length === 1 ? { gpu: matches[0]!, mig: true } : undefined;
  }
  return undefined;
}

export function resolveVisibleDevices(all: GpuIdentity[], text: string): VisibleGpus {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '-1') return { gpus: [], scope: 'whole GPU', stoppedAt: null };
  const gpus: GpuIdentity[] = [];
  let mig = false;
  for (const entry of trimmed.split(',').map(s => s.trim())) {
    const found = gpuOfEntry(all, entry);
    if (!found) return { gpus, scope: mig ? MIG_SCOPE : 'whole GPU', stoppedAt: entry };
    mig ||= found.mig;
    if (!gpus.includes(found.gpu)) gpus.push(found.gpu);
  }
  return { gpus, scope: mig ? MIG_SCOPE : 'whole GPU', stoppedAt: null };
}

/** A kernel's CUDA_VISIBLE_DEVICES as indices of this machine's GPUs, or null without an inventory. */
export function visibleGpuIndices(
  inventory: readonly GpuIdentity[],
  text: string,
): { ids: number[]; scope: string } | null {
  if (inventory.length === 0) return null;
  const visible = resolveVisibleDevices([...inventory], text);
  return { ids: visible.gpus.map(g => g.index), scope: visible.scope };
}

export interface GpuSelection {
  selected: GpuIdentity[];
  /** How the selection was made, for status and doctor. */
  rule: string;
  /** What each GPU figure covers (MIG_SCOPE when the sidecar itself was given a MIG slice). */
  scope: string;
}

export function selectGpus(all: GpuIdentity[], gpuIds: number[] | undefined, env: NodeJS.ProcessEnv): GpuSelection {
  if (gpuIds && gpuIds.length > 0) {
    return {
      selected: all.filter(g => gpuIds.includes(g.index)),
      rule: `--gpu-ids ${gpuIds.join(',')}`,
      scope: 'whole GPU',
    };
  }
  const cvd = env.CUDA_VISIBLE_DEVICES;
  if (cvd === undefined) return { selected: all, rule: 'all GPUs', scope: 'whole GPU' };
  const visible = resolveVisibleDevices(all, cvd);
  return { selected: visible.gpus, rule: `CUDA_VISIBLE_DEVICES=${cvd}`, scope: visible.scope };
}

/** `nvidia-smi -L`: the MIG instance UUIDs listed under each GPU, by GPU index. */
export function parseMigList(stdout: string): Map<number, string[]> {
  const byGpu = new Map<number, string[]>();
  let current: number | null = null;
  for (const line of stdout.split('\n')) {
    const gpu = /^GPU (\d+):/.exec(line);
    if (gpu) {
      current = Number(gpu[1]);
      continue;
    }
    const mig = /^\s+MIG .*\(UUID: (MIG-[^)\s]+)\)/.exec(line);
    if (mig && current !== null) byGpu.set(current, [...(byGpu.get(current) ?? []), mig[1]!]);
  }
  return byGpu;
}
