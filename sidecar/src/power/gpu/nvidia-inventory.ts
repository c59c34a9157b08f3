/**
 * The NVIDIA GPUs on this machine, read once at startup from `nvidia-smi --query-gpu` (exact
 * indices and UUIDs), with systeminformation's graphics() as a hint when nvidia-smi is missing
 * (NVIDIA controllers present but no driver tools).
 */
import { type ExecFileException, execFile } from 'node:child_process';
import { withTimeout } from '../host/hardware.js';
import { withSystemInformation } from '../host/system-info.js';
import { type GpuIdentity, parseMigList } from './gpu-visibility.js';

export interface NvidiaInventory {
  gpus: GpuIdentity[];
  /** Why the list is empty, when it is. */
  reason: string | null;
  smiAvailable: boolean;
}

function run(
  file: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; error: ExecFileException | null }> {
  return new Promise(resolve => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout) => resolve({ stdout, error }));
  });
}

export function parseQueryGpuList(stdout: string): GpuIdentity[] {
  const gpus: GpuIdentity[] = [];
  for (const line of stdout.split('\n')) {
    // Names may contain commas: only the first two separate fields.
    const m = /^\s*(\d+)\s*,\s*([^,]*?)\s*,\s*(.+?)\s*$/.exec(line);
    if (m) gpus.push({ index: Number(m[1]), uuid: m[2] || null, name: m[3]! });
  }
  return gpus;
}

export async function readNvidiaInventory(
  smiPath: string,
  systemInfo: boolean,
  timeoutMs = 10_000,
): Promise<NvidiaInventory> {
  const { stdout, error } = await run(smiPath, ['--query-gpu=index,uuid,name', '--format=csv,noheader'], timeoutMs);
  if (!error) {
    const gpus = parseQueryGpuList(stdout);
    // MIG instance UUIDs only appear in `-L`: CUDA_VISIBLE_DEVICES may name them.
    const list = await run(smiPath, ['-L'], timeoutMs);
    if (!list.error) {
      const migs = parseMigList(list.stdout);
      for (const gpu of gpus) if (migs.has(gpu.index)) gpu.migUuids = migs.get(gpu.index);
    }
    return { gpus, reason: gpus.length ? null : 'nvidia-smi lists no GPU', smiAvailable: true };
  }
  const smiReason =
    error.code === 'ENOENT'
      ? `${smiPath} not found`
      : `${smiPath} failed: ${(error.message.split('\n')[0] ?? '').slice(0, 200)}${stdout ? ` (${stdout.trim().slice(0, 200)})` : ''}`;
  if (systemInfo) {
    const graphics = await withSystemInformation(si =>
      withTimeout(si.graphics(), 5000, { controllers: [], displays: [] }),
    );
    const nvidia = graphics.controllers.filter(c => /nvidia/i.test(c.vendor ?? ''));
    if (nvidia.length) {
      return {
        gpus: [],
        reason: `${nvidia.length} NVIDIA controller(s) present (${nvidia.map(c => c.model).join(', ')}) but ${smiReason}: install the NVIDIA driver, or pass --nvidia-smi PATH`,
        smiAvailable: false,
      };
    }
  }
  return { gpus: [], reason: `no NVIDIA GPU found (${smiReason})`, smiAvailable: false };
}
