/**
 * The periodic tick: reads every source each --sample-interval ms, turns the readings into a
 * Sample (power per component), feeds the chart buffer, the metrics and the stream, and
 * checkpoints open runs every checkpointIntervalMs. While `idle()` (nobody streams, no run is open)
 * it ticks every idleIntervalMs instead: the counters behind the totals keep counting between
 * readings, and `wake()` brings the next tick forward when someone starts listening.
 */

import { performance } from 'node:perf_hooks';
import { COMPONENTS, type Component, type Sample } from '../api/schemas.js';
import type { Meter, MeterReading } from '../power/meter.js';

export interface SamplerDeps {
  meter: Meter;
  intervalMs: number;
  checkpointIntervalMs: number;
  /** Called each tick with the sample and the per-component energy since the last tick. */
  onSample: (sample: Sample, reading: MeterReading, energyDeltaJ: Partial<Record<Component, number>>) => void;
  /** Called every checkpointIntervalMs with the tick's reading. */
  onCheckpoint: (reading: MeterReading) => void;
  /** Nothing needs samples at intervalMs now (no stream client, no open run). */
  idle?: () => boolean;
  /** The tick interval while idle (never shorter than intervalMs). Default 1000 ms. */
  idleIntervalMs?: number;
  log?: (msg: string) => void;
}

export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private previous: MeterReading | null = null;
  private lastCheckpointMono = 0;
  private readonly idleIntervalMs: number;
  /** When the pending tick fires (performance.now()), so wake() knows whether to bring it forward. */
  private dueMs = 0;

  constructor(private readonly deps: SamplerDeps) {
    this.idleIntervalMs = Math.max(deps.intervalMs, deps.idleIntervalMs ?? 1000);
  }

  start(): void {
    if (this.timer) return;
    this.previous = this.deps.meter.read();
    this.lastCheckpointMono = this.previous.monoMs;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Someone needs samples again: the next tick comes within intervalMs. */
  wake(): void {
    if (!this.timer || this.dueMs - performance.now() <= this.deps.intervalMs) return;
    clearTimeout(this.timer);
    this.schedule(this.deps.intervalMs);
  }

  private schedule(delayMs = this.deps.idle?.() ? this.idleIntervalMs : this.deps.intervalMs): void {
    this.dueMs = performance.now() + delayMs;
    this.timer = setTimeout(() => {
      this.tick();
      if (this.timer) this.schedule();
    }, delayMs);
  }

  /** One tick; public so tests can drive it without waiting. */
  tick(): Sample {
    const reading = this.deps.meter.read();
    const previous = this.previous ?? reading;
    const dtS = (reading.monoMs - previous.monoMs) / 1000;
    const powerW: Sample['powerW'] = { cpu: null, gpu: null, ram: null };
    const energyDeltaJ: Partial<Record<Component, number>> = {};
    let totalPowerW = 0;
    for (const c of COMPONENTS) {
      const now = reading.components[c];
      // A component the machine lacks (method 'none') has no power, not zero power.
      if (!now || this.deps.meter.source(c)?.method === 'none') continue;
      const delta = Math.max(0, now.energyJ - (previous.components[c]?.energyJ ?? now.energyJ));
      energyDeltaJ[c] = delta;
      // The source's own instantaneous power where it has one, else the mean over the tick.
      const p = now.powerW ?? (dtS > 0 ? delta / dtS : 0);
      powerW[c] = p;
      totalPowerW += p;
    }
    this.previous = reading;
    const sample: Sample = { t: reading.wallMs, powerW, totalPowerW };
    try {
      this.deps.onSample(sample, reading, energyDeltaJ);
      if (reading.monoMs - this.lastCheckpointMono >= this.deps.checkpointIntervalMs) {
        this.lastCheckpointMono = reading.monoMs;
        this.deps.onCheckpoint(reading);
      }
    } catch (err) {
      this.deps.log?.(`sampler tick failed: ${(err as Error).message}`);
    }
    return sample;
  }
}
