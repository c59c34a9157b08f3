/**
 * NVIDIA GPU energy from NVML's total-energy counter (nvmlDeviceGetTotalEnergyConsumption, mJ since
 * driver load, 64-bit, Volta and newer): Zeus's method, read at the exact instant a run opens and
 * closes. Node has no NVML binding, so libnvidia-ml.so.1 is called through koffi (FFI, prebuilt).
 */
import { createRequire } from 'node:module';
import type { DeviceReading, PowerSource, ProbeResult, SourceReading } from '../source.js';
import { gpuSourceReading } from './gpu-reading.js';
import type { GpuIdentity } from './gpu-visibility.js';

const NVML_SUCCESS = 0;
const NVML_ERROR_NOT_SUPPORTED = 3;

type Fn = (...args: unknown[]) => unknown;

interface NvmlApi {
  init: () => number;
  shutdown: () => number;
  errorString: (code: number) => string;
  getCount: (out: number[]) => number;
  getHandle: (index: number, out: unknown[]) => number;
  getName: (handle: unknown, buf: Buffer, len: number) => number;
  getUuid: (handle: unknown, buf: Buffer, len: number) => number;
  getEnergy: (handle: unknown, out: (number | bigint)[]) => number;
  getPower: (handle: unknown, out: number[]) => number;
}

interface Koffi {
  load: (path: string) => { func: (decl: string) => Fn };
  pointer: (name: string, type: unknown) => unknown;
  opaque: () => unknown;
}

let koffiModule: Koffi | null = null;

/** koffi, with the NVML handle type registered once (koffi type names are global). */
function koffi(): Koffi {
  if (!koffiModule) {
    const mod = createRequire(import.meta.url)('koffi') as Koffi;
    mod.pointer('nvmlDevice_t', mod.opaque());
    koffiModule = mod;
  }
  return koffiModule;
}

/** Loads libnvidia-ml through koffi; throws with a readable message when either is missing. */
function loadNvml(libPath: string): NvmlApi {
  const lib = koffi().load(libPath);
  return {
    init: lib.func('int nvmlInit_v2()') as NvmlApi['init'],
    shutdown: lib.func('int nvmlShutdown()') as NvmlApi['shutdown'],
    errorString: lib.func('const char *nvmlErrorString(int result)') as NvmlApi['errorString'],
    getCount: lib.func('int nvmlDeviceGetCount_v2(_Out_ unsigned int *count)') as NvmlApi['getCount'],
    getHandle: lib.func(
      'int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ nvmlDevice_t *device)',
    ) as NvmlApi['getHandle'],
    getName: lib.func(
      'int nvmlDeviceGetName(nvmlDevice_t device, _Out_ uint8_t *name, unsigned int length)',
    ) as NvmlApi['getName'],
    getUuid: lib.func(
      'int nvmlDeviceGetUUID(nvmlDevice_t device, _Out_ uint8_t *uuid, unsigned int length)',
    ) as NvmlApi['getUuid'],
    getEnergy: lib.func(
      'int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, _Out_ unsigned long long *energy)',
    ) as NvmlApi['getEnergy'],
    getPower: lib.func(
      'int nvmlDeviceGetPowerUsage(nvmlDevice_t device, _Out_ unsigned int *power)',
    ) as NvmlApi['getPower'],
  };
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

interface NvmlDevice {
  gpu: GpuIdentity;
  handle: unknown;
  baseMj: number;
  energyJ: number;
  powerW: number | null;
}

export const NVML_DRIVER_FIX =
  'Install the NVIDIA driver (it provides libnvidia-ml.so.1); in a container use the NVIDIA Container Toolkit (docker run --gpus all).';

export interface NvmlOptions {
  /** Default 'libnvidia-ml.so.1' (the driver's library, found by the dynamic loader). */
  libPath?: string;
  /** Chooses the GPUs to sample among those NVML lists (CUDA_VISIBLE_DEVICES, --gpu-ids). */
  select: (all: GpuIdentity[]) => { selected: GpuIdentity[]; rule: string };
}

export class NvmlSource implements PowerSource {
  readonly id = 'nvidia-nvml';
  readonly component = 'gpu' as const;
  readonly method = 'nvml' as const;
  readonly measured = true;
  /** NVML's energy counter moves every ~20–100 ms (PETSc docs; ml.energy): the slower bound. */
  readonly updatePeriodMs = 100;
  private api: NvmlApi | null = null;
  private devs: NvmlDevice[] = [];
  private initialised = false;
  private rule = '';

  constructor(private readonly opts: NvmlOptions) {}

  private check(code: number, what: string): void {
    if (code !== NVML_SUCCESS) throw new Error(`${what}: ${this.api?.errorString(code) ?? `NVML error ${code}`}`);
  }

  /** Loads the library, initialises NVML and opens the selected devices (idempotent). */
  private open(): void {
    if (this.initialised) return;
    const libPath = this.opts.libPath ?? 'libnvidia-ml.so.1';
    this.api = loadNvml(libPath);
    this.check(this.api.init(), 'nvmlInit_v2');
    this.initialised = true;
    const count = [0];
    this.check(this.api.getCount(count), 'nvmlDeviceGetCount_v2');
    const all: { gpu: GpuIdentity; handle: unknown }[] = [];
    for (let index = 0; index < count[0]!; index++) {
      const out: unknown[] = [null];
      this.check(this.api.getHandle(index, out), `nvmlDeviceGetHandleByIndex_v2(${index})`);
      const name = Buffer.alloc(96);
      const uuid = Buffer.alloc(96);
      this.api.getName(out[0], name, name.length);
      this.api.getUuid(out[0], uuid, uuid.length);
      all.push({ gpu: { index, uuid: cString(uuid) || null, name: cString(name) || `GPU ${index}` }, handle: out[0] });
    }
    const { selected, rule } = this.opts.select(all.map(a => a.gpu));
    this.rule = rule;
    this.devs = all.filter(a => selected.includes(a.gpu)).map(a => ({ ...a, baseMj: 0, energyJ: 0, powerW: null }));
  }

  private energyMj(dev: NvmlDevice): number {
    const out: (number | bigint)[] = [0];
    this.check(this.api!.getEnergy(dev.handle, out), `nvmlDeviceGetTotalEnergyConsumption(GPU ${dev.gpu.index})`);
    return Number(out[0]);
  }

  async probe(): Promise<ProbeResult> {
    try {
      this.open();
    } catch (err) {
      const message = (err as Error).message;
      const noLib = /Failed to load shared library|cannot open shared object/i.test(message);
      const noKoffi = /Cannot find module 'koffi'/.test(message);
      // A build without koffi's prebuilt binary for this platform (the sdist, or a wheel for another one).
      const noNative = /Cannot find the native Koffi module/.test(message);
      if (noNative) {
        return {
          available: false,
          reason: `this PNAV Lab build has no native FFI module (koffi) for ${process.platform}-${process.arch}: GPU power comes from nvidia-smi instead`,
          fix: 'Install the pnav-lab wheel built for this platform (pip picks it when one exists), or use nvidia-smi.',
        };
      }
      return {
        available: false,
        reason: noKoffi
          ? 'the koffi FFI package is not installed (npm install koffi)'
          : noLib
            ? `${this.opts.libPath ?? 'libnvidia-ml.so.1'} not found: no NVIDIA driver on this machine`
            : message,
        fix: noKoffi ? 'npm install -w sidecar koffi' : NVML_DRIVER_FIX,
      };
    }
    if (this.devs.length === 0) {
      return { available: false, reason: `NVML lists no selected GPU (${this.rule})` };
    }
    for (const dev of this.devs) {
      const out: (number | bigint)[] = [0];
      const code = this.api!.getEnergy(dev.handle, out);
      if (code === NVML_ERROR_NOT_SUPPORTED) {
        return {
          available: false,
          reason: `GPU ${dev.gpu.index} (${dev.gpu.name}) has no total-energy counter (pre-Volta or vGPU)`,
          detail: 'nvidia-smi power integration is used instead',
        };
      }
      if (code !== NVML_SUCCESS) {
        return { available: false, reason: `nvmlDeviceGetTotalEnergyConsumption: ${this.api!.errorString(code)}` };
      }
    }
    return {
      available: true,
      detail: `NVML total-energy counter (mJ) on ${this.devs.map(d => `GPU ${d.gpu.index} ${d.gpu.name}`).join(', ')} (${this.rule})`,
    };
  }

  async start(): Promise<void> {
    this.open();
    for (const dev of this.devs) dev.baseMj = this.energyMj(dev);
  }

  read(): SourceReading {
    const monoMs = performance.now();
    const devices: DeviceReading[] = this.devs.map(dev => {
      dev.energyJ = Math.max(dev.energyJ, (this.energyMj(dev) - dev.baseMj) / 1000);
      const mw = [0];
      dev.powerW = this.api!.getPower(dev.handle, mw) === NVML_SUCCESS ? mw[0]! / 1000 : null;
      return { deviceId: `gpu${dev.gpu.index}`, energyJ: dev.energyJ, powerW: dev.powerW };
    });
    return gpuSourceReading(monoMs, devices);
  }

  async stop(): Promise<void> {
    if (this.initialised && this.api) this.api.shutdown();
    this.initialised = false;
    this.devs = [];
  }

  devices(): { id: string; name: string }[] {
    return this.devs.map(d => ({ id: `gpu${d.gpu.index}`, name: d.gpu.name }));
  }
}
