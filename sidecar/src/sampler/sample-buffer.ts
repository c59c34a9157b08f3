/**
 * A bounded history of samples for live charts. Level 0 holds the newest samples as taken;
 * when a level is full its oldest `factor` entries are averaged into one entry of the next
 * level, and the last level drops its oldest. Memory is levels x capacity samples, however
 * long the sidecar runs (default 4 x 600: at 1 Hz, 10 min raw, 100 min at 10 s, ~17 h at
 * 100 s, ~7 days at 1,000 s).
 */
import type { Sample } from '../api/schemas.js';

export interface SampleBufferOptions {
  capacityPerLevel?: number;
  factor?: number;
  levels?: number;
}

export class SampleBuffer {
  private readonly capacity: number;
  private readonly factor: number;
  private readonly levels: Sample[][];

  constructor(opts: SampleBufferOptions = {}) {
    this.capacity = opts.capacityPerLevel ?? 600;
    this.factor = opts.factor ?? 10;
    if (this.factor < 2 || this.capacity < this.factor) throw new RangeError('capacityPerLevel must be >= factor >= 2');
    this.levels = Array.from({ length: opts.levels ?? 4 }, () => []);
  }

  push(sample: Sample): void {
    this.pushAt(0, sample);
  }

  private pushAt(level: number, sample: Sample): void {
    const list = this.levels[level]!;
    list.push(sample);
    if (list.length <= this.capacity) return;
    if (level === this.levels.length - 1) {
      list.shift();
      return;
    }
    this.pushAt(level + 1, average(list.splice(0, this.factor)));
  }

  /** Chronological samples with t >= sinceMs: coarse old data first, then finer, newest last. */
  since(sinceMs = 0): Sample[] {
    const out: Sample[] = [];
    for (let level = this.levels.length - 1; level >= 0; level--) {
      for (const s of this.levels[level]!) if (s.t >= sinceMs) out.push(s);
    }
    return out;
  }

  get size(): number {
    return this.levels.reduce((n, l) => n + l.length, 0);
  }
}

function average(samples: Sample[]): Sample {
  const n = samples.length;
  const mean = (pick: (s: Sample) => number | null): number | null => {
    let sum = 0;
    let count = 0;
    for (const s of samples) {
      const v = pick(s);
      if (v !== null) {
        sum += v;
        count++;
      }
    }
    return count === 0 ? null : sum / count;
  };
  return {
    // Time of the middle of the averaged span.
    t: (samples[0]!.t + samples[n - 1]!.t) / 2,
    powerW: { cpu: mean(s => s.powerW.cpu), gpu: mean(s => s.powerW.gpu), ram: mean(s => s.powerW.ram) },
    totalPowerW: mean(s => s.totalPowerW) ?? 0,
  };
}
