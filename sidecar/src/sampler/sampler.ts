/**
 * The periodic tick: reads every source each --sample-interval ms, turns the readings into a
 * Sample (power per component), feeds the chart buffer, the metrics and the stream, and
 * checkpoints open runs every checkpointIntervalMs.
 */
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
  log?: (msg: string) => void;
}

export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private previous: MeterReading | null = null;
  private lastCheckpointMono = 0;

  constructor(private readonly deps: SamplerDeps) {}

  start(): void {
    if (this.timer) return;
    this.previous = this.deps.meter.read();
    this.lastCheckpointMono = this.previous.monoMs;
    this.timer = setInterval(() => this.tick(), this.deps.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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
