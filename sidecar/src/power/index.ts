/**
 * The device layer's entry point: probes every candidate source and picks, per component, the best
 * available one — cpu: rapl > tdp-load; gpu: nvml > nvidia-smi > none; ram: rapl-dram > ram-model.
 * Returned sources are probed but not started: the caller calls start() once on each (startAll).
 */
import type { Component, SourceInfo, Status } from '../api/schemas.js';
import { CpuEstimateSource } from './cpu/cpu-estimate.js';
import { RaplDramSource, RaplPackageSource } from './cpu/rapl.js';
import { tdpTable } from './cpu/tdp-table.js';
import { discoverGpus } from './gpu/gpu.js';
import type { GpuIdentity } from './gpu/gpu-visibility.js';
import { NoGpuSource } from './gpu/no-gpu.js';
import { readDimms, readInventory } from './host/hardware.js';
import { readScope, type Scope } from './host/scope.js';
import { RamModelSource, ramModel } from './ram/ram-model.js';
import type { PowerSource, ProbeResult } from './source.js';

export type { Scope } from './host/scope.js';
export type { PowerSource, ProbeResult, SourceReading } from './source.js';

export interface PowerOptions {
  sysfsRoot: string;
  procRoot: string;
  gpuIds?: number[];
  /** TDP per socket in W (--cpu-tdp); overrides the table. */
  cpuTdpW?: number;
  nvidiaSmiPath?: string;
  /** libnvidia-ml path for NVML (default libnvidia-ml.so.1). */
  nvmlLibPath?: string;
  /** nvidia-smi streaming period in ms (default 100). */
  smiIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Ask systeminformation for DIMMs and GPUs (slow; off in tests). Default true. */
  systemInfo?: boolean;
}

export interface PowerSetup {
  /** One chosen source per component (cpu, gpu, ram), probed, not yet started. */
  sources: PowerSource[];
  /** The chosen sources plus the unavailable candidates, for status. */
  info: SourceInfo[];
  hardware: Status['hardware'];
  scope: Scope;
  /** Every GPU of the machine with its UUID and MIG instances (maps a kernel's CUDA_VISIBLE_DEVICES). */
  gpuInventory: GpuIdentity[];
  /** What the sidecar's GPU figures cover: 'whole GPU', or the MIG note when it was given a slice. */
  gpuScope: string;
}

interface Probed {
  source: PowerSource;
  probe: ProbeResult;
}

export function sourceInfo({ source, probe }: Probed): SourceInfo {
  return {
    id: source.id,
    component: source.component,
    method: source.method,
    measured: source.measured,
    available: probe.available,
    reason: probe.reason ?? null,
    fix: probe.fix ?? null,
    devices: probe.available ? source.devices() : [],
    detail: probe.detail ?? null,
  };
}

async function probeAll(sources: PowerSource[]): Promise<Probed[]> {
  return Promise.all(
    sources.map(async source => {
      try {
        return { source, probe: await source.probe() };
      } catch (err) {
        return { source, probe: { available: false, reason: `probe failed: ${(err as Error).message}` } };
      }
    }),
  );
}

interface Candidates {
  byComponent: Record<Component, PowerSource[]>;
  hardware: Status['hardware'];
  scope: Scope;
  gpuInventory: GpuIdentity[];
  gpuScope: string;
}

async function buildCandidates(opts: PowerOptions): Promise<Candidates> {
  const env = opts.env ?? process.env;
  const systemInfo = opts.systemInfo ?? true;
  const inventory = readInventory(opts.procRoot);
  const scope = readScope({
    sysfsRoot: opts.sysfsRoot,
    procRoot: opts.procRoot,
    env,
    totalCpus: inventory.cpuCount,
    totalMemBytes: inventory.totalMemBytes,
  });

  const table = tdpTable();
  const match = opts.cpuTdpW ? null : table.match(inventory.cpuModel);
  const tdpW = opts.cpuTdpW ?? match?.tdpW ?? table.defaultTdpW;
  const tdpSource = opts.cpuTdpW
    ? '--cpu-tdp'
    : match
      ? `table (${match.how} match "${match.matchedName}", ${table.sourceLabel})`
      : `default ${table.defaultTdpW} W: CPU "${inventory.cpuModel}" not in the table (${table.defaultTdpSource}); set --cpu-tdp`;

  const [dimms, gpus] = await Promise.all([
    systemInfo ? readDimms() : Promise.resolve([]),
    discoverGpus({
      gpuIds: opts.gpuIds,
      nvidiaSmiPath: opts.nvidiaSmiPath,
      nvmlLibPath: opts.nvmlLibPath,
      smiIntervalMs: opts.smiIntervalMs,
      env,
      systemInfo,
    }),
  ]);
  const ram = ramModel({
    totalMemBytes: inventory.totalMemBytes,
    memLimitBytes: scope.memLimitBytes,
    dimms,
    arch: inventory.arch,
  });

  return {
    byComponent: {
      cpu: [
        new RaplPackageSource(opts.sysfsRoot),
        new CpuEstimateSource({ procRoot: opts.procRoot, tdpW, sockets: inventory.sockets, tdpSource, scope }),
      ],
      gpu: [...gpus.candidates, new NoGpuSource(gpus.noneReason)],
      ram: [new RaplDramSource(opts.sysfsRoot), new RamModelSource(ram)],
    },
    hardware: {
      cpuModel: inventory.cpuModel,
      cpuCount: inventory.cpuCount,
      cpuTdpW: tdpW * inventory.sockets,
      cpuTdpSource: inventory.sockets > 1 ? `${tdpW} W × ${inventory.sockets} sockets, ${tdpSource}` : tdpSource,
      gpuCount: gpus.gpuCount,
      gpuModel: gpus.gpuModel,
      ramTotalGB: inventory.totalMemBytes / 1024 ** 3,
    },
    scope,
    gpuInventory: gpus.inventory,
    gpuScope: gpus.scope,
  };
}

export async function createPowerSources(opts: PowerOptions): Promise<PowerSetup> {
  const { byComponent, hardware, scope, gpuInventory, gpuScope } = await buildCandidates(opts);
  const sources: PowerSource[] = [];
  const info: SourceInfo[] = [];
  for (const component of ['cpu', 'gpu', 'ram'] as const) {
    const probed = await probeAll(byComponent[component]);
    const chosen = probed.find(p => p.probe.available);
    if (chosen) sources.push(chosen.source);
    // Candidates better than the chosen one that are unavailable say why (and how to fix it).
    for (const p of probed) {
      if (p === chosen) info.push(sourceInfo(p));
      else if (!p.probe.available && (!chosen || probed.indexOf(p) < probed.indexOf(chosen))) info.push(sourceInfo(p));
    }
    // Sources not chosen release anything their probe opened.
    for (const p of probed) if (p !== chosen) await p.source.stop();
  }
  return { sources, info, hardware, scope, gpuInventory, gpuScope };
}

/** Every candidate with its probe, for `pnav doctor`; exit code from measuredAvailable. */
export async function doctor(opts: PowerOptions): Promise<{ sources: SourceInfo[]; measuredAvailable: boolean }> {
  const { byComponent } = await buildCandidates(opts);
  const probed = await probeAll([...byComponent.cpu, ...byComponent.gpu, ...byComponent.ram]);
  for (const p of probed) await p.source.stop();
  const sources = probed.map(sourceInfo);
  return { sources, measuredAvailable: sources.some(s => s.available && s.measured) };
}

export async function startAll(sources: PowerSource[]): Promise<void> {
  for (const s of sources) await s.start();
}

export async function stopAll(sources: PowerSource[]): Promise<void> {
  await Promise.allSettled(sources.map(s => s.stop()));
}
