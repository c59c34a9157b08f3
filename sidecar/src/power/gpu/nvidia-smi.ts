/**
 * NVIDIA GPU energy from ONE long-running `nvidia-smi --query-gpu=... -lms <ms>` child, its power
 * samples integrated with the trapezoidal rule on the stream's own timestamps (not the lines' arrival:
 * a pipe may deliver them in bursts); for GPUs without NVML's energy counter, or where NVML cannot be
 * loaded. A run's edges are interpolated between the samples around them (settle + energyAt), and
 * `[N/A]` power makes the source fail its reads (unavailable, never a measured 0 W). Never one process per sample (each spawn pays NVML init and process start).
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

/** One sample of the stream, on the performance.now() clock, with the energy integrated up to it. */
interface Sample {
  monoMs: number;
  powerW: number;
  cumulativeJ: number;
}

interface GpuTrack {
  gpu: GpuIdentity;
  /** Valid samples, oldest first (bounded): energyAt interpolates between them. */
  history: Sample[];
  /** The latest line said [N/A]: the GPU's power is unknown until a number comes again. */
  unavailable: boolean;
  /** Time of the latest line, valid or [N/A]. */
  lastLineMonoMs: number | null;
  /** Last value read() returned: readings never go down. */
  reportedJ: number;
}

const MAX_RESTART_DELAY_MS = 30_000;
/** ~33 min of history at 100 ms: the start of any run closed within that is interpolated too. */
const MAX_HISTORY = 20_000;
/** A stream timestamp further than this from the line's arrival is not trusted (clock step): arrival is used. */
const MAX_TIMESTAMP_SKEW_MS = 5_000;

/** nvidia-smi's timestamp ("2026/11/21 10:00:00.123", local time) in ms since the epoch, or null. */
export function parseSmiTimestamp(text: string): number | null {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, ms] = m;
  return new Date(+y!, +mo! - 1, +d!, +h!, +mi!, +sec!, ms ? +ms.padEnd(3, '0') : 0).getTime();
}

export function parseSmiLine(line: string): { index: number; wallMs: number | null; powerW: number | null } | null {
  const [index, timestamp, power] = line.split(',').map(s => s.trim());
  if (!index || !/^\d+$/.test(index) || power === undefined) return null;
  const powerW = Number(power);
  // '[N/A]', '[Unknown Error]' and the like: the power is unknown, which is not 0 W.
  return {
    index: Number(index),
    wallMs: parseSmiTimestamp(timestamp ?? ''),
    powerW: Number.isFinite(powerW) && power !== '' ? powerW : null,
  };
}

/** Energy from the first sample up to monoMs: trapezoids between samples, linear power inside one. */
function integrateTo(history: Sample[], monoMs: number, holdMs: number): number | null {
  if (history.length === 0 || monoMs < history[0]!.monoMs) return null;
  let lo = 0;
  let hi = history.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (history[mid]!.monoMs <= monoMs) lo = mid;
    else hi = mid - 1;
  }
  const a = history[lo]!;
  const b = history[lo + 1];
  if (!b) return a.cumulativeJ + a.powerW * (Math.min(holdMs, monoMs - a.monoMs) / 1000); // past the last sample: hold
  const f = (monoMs - a.monoMs) / (b.monoMs - a.monoMs);
  const powerAtW = a.powerW + f * (b.powerW - a.powerW);
  return a.cumulativeJ + ((a.powerW + powerAtW) / 2) * ((monoMs - a.monoMs) / 1000);
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
      opts.gpus.map(gpu => [gpu.index, { gpu, history: [], unavailable: false, lastLineMonoMs: null, reportedJ: 0 }]),
    );
  }

  get intervalMs(): number {
    return this.opts.intervalMs ?? 100;
  }

  /** The sampling period; power.draw (no .instant) is itself a 1 s average on Ampere and newer. */
  get updatePeriodMs(): number {
    return this.field === 'power.draw' ? Math.max(1000, this.intervalMs) : this.intervalMs;
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
    // The stream's own timestamp, not the line's arrival: a block-buffered pipe delivers lines in bursts.
    const arrivalMs = performance.now();
    const stampedMs = sample.wallMs === null ? null : sample.wallMs - performance.timeOrigin;
    const monoMs =
      stampedMs !== null && Math.abs(arrivalMs - stampedMs) <= MAX_TIMESTAMP_SKEW_MS
        ? Math.min(stampedMs, arrivalMs)
        : arrivalMs;
    track.lastLineMonoMs = monoMs;
    if (sample.powerW === null) {
      track.unavailable = true;
      track.history = []; // no trapezoid across an unknown stretch
    } else {
      track.unavailable = false;
      const last = track.history.at(-1);
      if (last && monoMs <= last.monoMs) return; // a repeated timestamp adds nothing
      const cumulativeJ = last
        ? last.cumulativeJ + ((last.powerW + sample.powerW) / 2) * ((monoMs - last.monoMs) / 1000)
        : track.reportedJ; // a new stretch continues from what was already reported
      track.history.push({ monoMs, powerW: sample.powerW, cumulativeJ });
      if (track.history.length > MAX_HISTORY) track.history.splice(0, track.history.length - MAX_HISTORY);
    }
    this.restartDelayMs = this.opts.restartDelayMs ?? 1000; // a working child resets the back-off
    for (const waiter of [...this.waiters]) if (this.sampledPast(waiter.monoMs)) waiter.resolve();
  }

  /** How long the last power is held past the last sample, so a hung child does not extrapolate forever. */
  private get holdMs(): number {
    return Math.max(1000, 5 * this.intervalMs);
  }

  private sampledPast(monoMs: number): boolean {
    return [...this.tracks.values()].every(t => t.lastLineMonoMs !== null && t.lastLineMonoMs >= monoMs);
  }

  private readonly waiters = new Set<{ monoMs: number; resolve: () => void }>();

  settle(monoMs: number, timeoutMs: number): Promise<void> {
    if (this.sampledPast(monoMs) || !this.child) return Promise.resolve();
    return new Promise(resolve => {
      const waiter = {
        monoMs,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  energyAt(monoMs: number): DeviceReading[] | null {
    const devices: DeviceReading[] = [];
    for (const t of this.tracks.values()) {
      const energyJ = integrateTo(t.history, monoMs, this.holdMs);
      if (energyJ === null) return null;
      devices.push({ deviceId: `gpu${t.gpu.index}`, energyJ, powerW: t.history.at(-1)?.powerW ?? null });
    }
    return devices;
  }

  read(): SourceReading {
    const monoMs = performance.now();
    const unknown = [...this.tracks.values()].filter(t => t.unavailable).map(t => t.gpu.index);
    // An unknown power must not read as 0 W measured: the meter keeps the last value and marks the window.
    if (unknown.length > 0) throw new Error(`nvidia-smi reports power [N/A] for GPU ${unknown.join(', ')}`);
    const devices: DeviceReading[] = [...this.tracks.values()].map(t => {
      // Up to now: the last sample's power held since it was taken (the next trapezoid corrects it).
      const estimateJ = integrateTo(t.history, monoMs, this.holdMs) ?? t.reportedJ;
      t.reportedJ = Math.max(t.reportedJ, estimateJ);
      return { deviceId: `gpu${t.gpu.index}`, energyJ: t.reportedJ, powerW: t.history.at(-1)?.powerW ?? null };
    });
    return gpuSourceReading(monoMs, devices);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const waiter of [...this.waiters]) waiter.resolve();
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
