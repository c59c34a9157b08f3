/**
 * CPU power estimate where no RAPL counter is readable: CodeCarbon's "machine" cpu_load curve
 * (mlco2/codecarbon v3.3.0, codecarbon/external/hardware.py):
 *
 *   P = TDP × (0.1 + 0.9 · u³)      u = CPU utilisation 0..1, a 10 % of TDP floor at idle
 *
 * scaled by the allocation's share of the machine (scope.ts). Utilisation comes from counter deltas
 * read without ever waiting (never psutil-style `cpu_percent(interval=0.5)`, which blocks the caller for half a second):
 * `<procRoot>/stat` for the machine, or the cgroup's cpu.stat usage over the allowed CPUs when the
 * process is confined. A 1 s background tick keeps the curve applied to short intervals, since the
 * cubic of a long-run mean would understate bursts.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from '../host/scope.js';
import type { PowerSource, ProbeResult, SourceReading } from '../source.js';

export const IDLE_FRACTION = 0.1;

/** CodeCarbon's machine load curve: fraction of TDP drawn at utilisation u (0..1). */
export function loadCurve(utilisation: number): number {
  const u = Math.min(1, Math.max(0, utilisation));
  return IDLE_FRACTION + (1 - IDLE_FRACTION) * u ** 3;
}

/** Busy and total jiffies of the aggregate `cpu` line of /proc/stat (guest time is already in user). */
export function parseProcStat(text: string): { busy: number; total: number } {
  // The aggregate line comes first; splitting the whole file (a line per CPU and per IRQ) is waste at 10 Hz.
  const line = text.startsWith('cpu ')
    ? text.slice(0, text.indexOf('\n') >>> 0)
    : text.split('\n').find(l => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate cpu line');
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

export interface CpuEstimateOptions {
  procRoot: string;
  /** TDP per socket (W). */
  tdpW: number;
  sockets: number;
  /** Where the TDP came from, for the probe detail. */
  tdpSource: string;
  scope: Scope;
  /** Minimum window for a new utilisation figure (jiffies are 10 ms). */
  minWindowMs?: number;
  tickMs?: number;
}

type Counter = { busy: number; total: number };

/**
 * A new utilisation figure needs this much time since the last one: /proc/stat counts in 10 ms
 * jiffies (a 100 ms window on 2 CPUs is 20 jiffies: 5 % steps), and reading it costs ~0.1 ms of
 * the sidecar's CPU; at 10 Hz sampling the figure is refreshed every 5th tick.
 */
const MIN_WINDOW_MS = 500;

export class CpuEstimateSource implements PowerSource {
  readonly id = 'cpu-tdp-load';
  readonly component = 'cpu' as const;
  readonly method = 'tdp-load' as const;
  readonly measured = false;
  /** A new utilisation figure needs at least 100 ms of /proc/stat ticks. */
  readonly updatePeriodMs = 100;
  private readonly useCgroup: boolean;
  private lastCounter: Counter | null = null;
  private lastCounterMonoMs = 0;
  private lastMonoMs = 0;
  private energyJ = 0;
  private utilisation = 0;
  private powerW: number | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private statFd: number | null = null;
  private readonly statBuf = Buffer.alloc(1024);

  constructor(private readonly opts: CpuEstimateOptions) {
    this.useCgroup = opts.scope.kind !== 'machine' && opts.scope.cgroupDir !== null && this.readCgroupUsage() !== null;
  }

  /** Machine TDP: per-socket TDP × sockets × the allocation's share. */
  get scaledTdpW(): number {
    return this.opts.tdpW * this.opts.sockets * this.opts.scope.cpuFraction;
  }

  private readCgroupUsage(): Counter | null {
    try {
      const text = readFileSync(join(this.opts.scope.cgroupDir!, 'cpu.stat'), 'utf8');
      const usageUsec = Number(/^usage_usec (\d+)/m.exec(text)?.[1]);
      if (!Number.isFinite(usageUsec)) return null;
      // Total = wall time × allowed CPUs, in µs; filled in by the caller's time delta.
      return { busy: usageUsec, total: Number.NaN };
    } catch {
      return null;
    }
  }

  private readCounter(): Counter {
    if (this.useCgroup) {
      const c = this.readCgroupUsage();
      if (c) return c;
    }
    return parseProcStat(this.readProcStatHead());
  }

  /**
   * The start of /proc/stat (its aggregate `cpu` line comes first). While started, the file stays
   * open and is read again at offset 0 (procfs regenerates it): ~25 µs instead of ~175 µs for an
   * open + read + close, which mattered at 10 Hz sampling.
   */
  private readProcStatHead(): string {
    const file = join(this.opts.procRoot, 'stat');
    if (this.ticker === null) return readFileSync(file, 'utf8');
    this.statFd ??= openSync(file, 'r');
    try {
      const n = readSync(this.statFd, this.statBuf, 0, this.statBuf.length, 0);
      return this.statBuf.toString('latin1', 0, n);
    } catch (err) {
      this.closeStat(); // opened again on the next read
      throw err;
    }
  }

  private closeStat(): void {
    if (this.statFd === null) return;
    try {
      closeSync(this.statFd);
    } catch {
      // already gone
    }
    this.statFd = null;
  }

  private utilisationSince(prev: Counter, next: Counter, dtMs: number): number {
    if (this.useCgroup) return (next.busy - prev.busy) / (dtMs * 1000 * this.opts.scope.allowedCpus);
    const dTotal = next.total - prev.total;
    return dTotal > 0 ? (next.busy - prev.busy) / dTotal : this.utilisation;
  }

  async probe(): Promise<ProbeResult> {
    try {
      this.readCounter();
    } catch (err) {
      return {
        available: false,
        reason: `cannot read CPU utilisation from ${join(this.opts.procRoot, 'stat')}: ${(err as Error).message}`,
        fix: 'Mount the host /proc or run on Linux; or pass --cpu-tdp and accept a constant estimate.',
      };
    }
    const { tdpW, sockets, tdpSource, scope } = this.opts;
    return {
      available: true,
      detail: `estimate: TDP ${tdpW} W${sockets > 1 ? ` × ${sockets} sockets` : ''} (${tdpSource}) × (0.1 + 0.9·u³), CodeCarbon machine curve; scope ${scope.kind} × ${scope.cpuFraction.toFixed(3)}; utilisation from ${this.useCgroup ? 'cgroup cpu.stat' : '/proc/stat'}`,
    };
  }

  async start(): Promise<void> {
    const now = performance.now();
    this.lastCounter = this.readCounter();
    this.lastCounterMonoMs = now;
    this.lastMonoMs = now;
    this.ticker = setInterval(() => {
      try {
        this.read();
      } catch {
        // /proc unreadable for a moment: keep the last utilisation.
      }
    }, this.opts.tickMs ?? 1000);
    this.ticker.unref();
  }

  read(): SourceReading {
    const monoMs = performance.now();
    const windowMs = monoMs - this.lastCounterMonoMs;
    if (this.lastCounter && windowMs >= (this.opts.minWindowMs ?? MIN_WINDOW_MS)) {
      const counter = this.readCounter();
      this.utilisation = Math.min(1, Math.max(0, this.utilisationSince(this.lastCounter, counter, windowMs)));
      this.lastCounter = counter;
      this.lastCounterMonoMs = monoMs;
      this.powerW = this.scaledTdpW * loadCurve(this.utilisation);
    }
    // Short windows reuse the last utilisation (idle floor before the first figure).
    const powerW = this.powerW ?? this.scaledTdpW * loadCurve(this.utilisation);
    this.energyJ += (powerW * Math.max(0, monoMs - this.lastMonoMs)) / 1000;
    this.lastMonoMs = monoMs;
    return { monoMs, energyJ: this.energyJ, powerW, devices: [{ deviceId: 'cpu', energyJ: this.energyJ, powerW }] };
  }

  /** Last utilisation figure, 0..1. */
  lastUtilisation(): number {
    return this.utilisation;
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.closeStat();
  }

  devices(): { id: string; name: string }[] {
    return [{ id: 'cpu', name: `CPU estimate (TDP ${this.opts.tdpW} W)` }];
  }
}
