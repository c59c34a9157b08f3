/**
 * NVIDIA GPU energy from ONE long-running `nvidia-smi --query-gpu=... -lms <ms>` child, its power
 * samples integrated with the trapezoidal rule; for GPUs without NVML's energy counter, or where NVML
 * cannot be loaded. Never one process per sample (each spawn pays NVML init and process start).
 * `power.draw.instant` is used where the driver knows it (`--help-query-gpu`), else `power.draw`
 * (a 1 s average on Ampere and newer). The child is restarted if it dies; the gap is bridged by the
 * trapezoid between the last sample before and the first after.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { DeviceReading, PowerSource, ProbeResult, SourceReading } from '../source.js';
import { gpuSourceReading } from './gpu-reading.js';
import type { GpuIdentity } from './gpu-visibility.js';

export interface NvidiaSmiOptions {
  smiPath: string;
  /** The GPUs to sample (already filtered by --gpu-ids / CUDA_VISIBLE_DEVICES). */
  gpus: GpuIdentity[];
  rule: string;
  /** Reason when `gpus` is empty. */
  noneReason?: string | null;
  intervalMs?: number;
  /** First restart delay; doubles up to 30 s while the child keeps dying. */
  restartDelayMs?: number;
}

interface GpuTrack {
  gpu: GpuIdentity;
  /** Integrated energy up to the last sample. */
  integratedJ: number;
  lastMonoMs: number | null;
  lastPowerW: number | null;
  /** Last value read() returned: readings never go down. */
  reportedJ: number;
}

const MAX_RESTART_DELAY_MS = 30_000;

export function parseSmiLine(line: string): { index: number; powerW: number } | null {
  const [index, , power] = line.split(',').map(s => s.trim());
  if (!index || !/^\d+$/.test(index) || power === undefined) return null;
  const powerW = Number(power);
  return Number.isFinite(powerW) ? { index: Number(index), powerW } : null; // '[N/A]' and the like are skipped
}

export class NvidiaSmiSource implements PowerSource {
  readonly id = 'nvidia-smi';
  readonly component = 'gpu' as const;
  readonly method = 'nvidia-smi' as const;
  readonly measured = true;
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartDelayMs: number;
  private field: 'power.draw.instant' | 'power.draw' | null = null;
  private readonly tracks: Map<number, GpuTrack>;
  /** Children started so far (1 + restarts). */
  spawns = 0;

  constructor(private readonly opts: NvidiaSmiOptions) {
    this.restartDelayMs = opts.restartDelayMs ?? 1000;
    this.tracks = new Map(
      opts.gpus.map(gpu => [gpu.index, { gpu, integratedJ: 0, lastMonoMs: null, lastPowerW: null, reportedJ: 0 }]),
    );
  }

  get intervalMs(): number {
    return this.opts.intervalMs ?? 100;
  }

  /** The power field this driver offers, from `nvidia-smi --help-query-gpu`. */
  private detectField(): Promise<'power.draw.instant' | 'power.draw' | null> {
    return new Promise(resolve => {
      execFile(this.opts.smiPath, ['--help-query-gpu'], { timeout: 10_000, encoding: 'utf8' }, (error, stdout) => {
        if (error) resolve(null);
        else resolve(/"power\.draw\.instant"/.test(stdout) ? 'power.draw.instant' : 'power.draw');
      });
    });
  }

  async probe(): Promise<ProbeResult> {
    if (this.tracks.size === 0) {
      return { available: false, reason: this.opts.noneReason ?? `no NVIDIA GPU selected (${this.opts.rule})` };
    }
    this.field ??= await this.detectField();
    if (!this.field) {
      return {
        available: false,
        reason: `${this.opts.smiPath} --help-query-gpu failed`,
        fix: 'Install or repair the NVIDIA driver, or pass --nvidia-smi PATH.',
      };
    }
    const names = [...this.tracks.values()].map(t => `GPU ${t.gpu.index} ${t.gpu.name}`).join(', ');
    return {
      available: true,
      detail: `${this.field} every ${this.intervalMs} ms from one streaming nvidia-smi, trapezoid-integrated, on ${names} (${this.opts.rule})${this.field === 'power.draw' ? '; power.draw is a 1 s average on Ampere and newer' : ''}`,
    };
  }

  async start(): Promise<void> {
    this.field ??= (await this.detectField()) ?? 'power.draw';
    this.stopping = false;
    this.spawnChild();
  }

  private spawnChild(): void {
    const ids = [...this.tracks.keys()].join(',');
    const args = [
      `--query-gpu=index,timestamp,${this.field}`,
      '--format=csv,noheader,nounits',
      '-lms',
      String(this.intervalMs),
      '-i',
      ids,
    ];
    const child = spawn(this.opts.smiPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    this.spawns += 1;
    child.on('error', () => {}); // reported through 'close'
    createInterface({ input: child.stdout! }).on('line', line => this.onLine(line));
    child.on('close', () => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopping) this.spawnChild();
      }, this.restartDelayMs);
      this.restartTimer.unref();
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    });
  }

  private onLine(line: string): void {
    const sample = parseSmiLine(line);
    const track = sample && this.tracks.get(sample.index);
    if (!sample || !track) return;
    const monoMs = performance.now();
    if (track.lastMonoMs !== null && track.lastPowerW !== null) {
      track.integratedJ += ((track.lastPowerW + sample.powerW) / 2) * ((monoMs - track.lastMonoMs) / 1000);
    }
    track.lastMonoMs = monoMs;
    track.lastPowerW = sample.powerW;
    this.restartDelayMs = this.opts.restartDelayMs ?? 1000; // a working child resets the back-off
  }

  read(): SourceReading {
    const monoMs = performance.now();
    const devices: DeviceReading[] = [...this.tracks.values()].map(t => {
      // Up to now: the last sample's power held since it arrived (the next trapezoid corrects it).
      // Held for a few intervals at most, so a hung child does not extrapolate forever.
      const holdMs = Math.max(1000, 5 * this.intervalMs);
      const sinceLastS = t.lastMonoMs === null ? 0 : Math.min(holdMs, Math.max(0, monoMs - t.lastMonoMs)) / 1000;
      const estimateJ = t.integratedJ + (t.lastPowerW ?? 0) * sinceLastS;
      t.reportedJ = Math.max(t.reportedJ, estimateJ);
      return { deviceId: `gpu${t.gpu.index}`, energyJ: t.reportedJ, powerW: t.lastPowerW };
    });
    return gpuSourceReading(monoMs, devices);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise<void>(resolve => child.once('close', () => resolve()));
      child.kill('SIGTERM');
      await closed;
    }
  }

  /** The running child's pid, for tests. */
  childPid(): number | null {
    return this.child?.pid ?? null;
  }

  devices(): { id: string; name: string }[] {
    return [...this.tracks.values()].map(t => ({ id: `gpu${t.gpu.index}`, name: t.gpu.name }));
  }
}
