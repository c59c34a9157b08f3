/**
 * A bounded history of samples for live charts. Level 0 holds the newest samples as taken;
 * when a level is full its oldest `factor` entries are averaged into one entry of the next
 * level, and the last level drops its oldest. Memory is levels x capacity samples, however
 * long the sidecar runs (default 4 x 600: at 1 Hz, 10 min raw, 100 min at 10 s, ~17 h at
 * 100 s, ~7 days at 1,000 s).
 *
 * Each level is a ring of numbers in one Float64Array (NaN = null), not an array of objects:
 * samples live for minutes to days, and thousands of small long-lived objects would keep
 * promoting into V8's old generation and growing it. Sample objects are built only when read.
 */
import type { Sample } from '../api/schemas.js';

export interface SampleBufferOptions {
  capacityPerLevel?: number;
  factor?: number;
  levels?: number;
}

/** t, cpu, gpu, ram, total: one record's fields in a level's array. */
const FIELDS = 5;

class Level {
  readonly data: Float64Array;
  head = 0;
  count = 0;

  constructor(readonly capacity: number) {
    this.data = new Float64Array(capacity * FIELDS);
  }

  /** Offset of the i-th oldest record. */
  at(i: number): number {
    return ((this.head + i) % this.capacity) * FIELDS;
  }

  append(t: number, cpu: number, gpu: number, ram: number, total: number): void {
    const o = this.at(this.count);
    const d = this.data;
    d[o] = t;
    d[o + 1] = cpu;
    d[o + 2] = gpu;
    d[o + 3] = ram;
    d[o + 4] = total;
    this.count++;
  }

  dropOldest(n: number): void {
    this.head = (this.head + n) % this.capacity;
    this.count -= n;
  }
}

export class SampleBuffer {
  private readonly factor: number;
  private readonly levels: Level[];

  constructor(opts: SampleBufferOptions = {}) {
    const capacity = opts.capacityPerLevel ?? 600;
    this.factor = opts.factor ?? 10;
    if (this.factor < 2 || capacity < this.factor) throw new RangeError('capacityPerLevel must be >= factor >= 2');
    this.levels = Array.from({ length: opts.levels ?? 4 }, () => new Level(capacity));
  }

  push(sample: Sample): void {
    const p = sample.powerW;
    this.pushAt(0, sample.t, p.cpu ?? Number.NaN, p.gpu ?? Number.NaN, p.ram ?? Number.NaN, sample.totalPowerW);
  }

  private pushAt(level: number, t: number, cpu: number, gpu: number, ram: number, total: number): void {
    const l = this.levels[level]!;
    if (l.count === l.capacity) {
      if (level === this.levels.length - 1) l.dropOldest(1);
      else {
        this.pushAverage(level + 1, l);
        l.dropOldest(this.factor);
      }
    }
    l.append(t, cpu, gpu, ram, total);
  }

  /** The mean of `from`'s oldest `factor` records into `level`: nulls stay out of the means. */
  private pushAverage(level: number, from: Level): void {
    const d = from.data;
    const sum = [0, 0, 0, 0];
    const n = [0, 0, 0, 0];
    for (let i = 0; i < this.factor; i++) {
      const o = from.at(i);
      for (let f = 0; f < 4; f++) {
        const v = d[o + 1 + f]!;
        if (!Number.isNaN(v)) {
          sum[f]! += v;
          n[f]!++;
        }
      }
    }
    const mean = (f: number) => (n[f] === 0 ? Number.NaN : sum[f]! / n[f]!);
    // Time of the middle of the averaged span.
    const t = (d[from.at(0)]! + d[from.at(this.factor - 1)]!) / 2;
    this.pushAt(level, t, mean(0), mean(1), mean(2), n[3] === 0 ? 0 : mean(3));
  }

  /** Chronological samples with t >= sinceMs: coarse old data first, then finer, newest last. */
  since(sinceMs = 0): Sample[] {
    const out: Sample[] = [];
    for (let level = this.levels.length - 1; level >= 0; level--) {
      const l = this.levels[level]!;
      const d = l.data;
      for (let i = 0; i < l.count; i++) {
        const o = l.at(i);
        if (d[o]! < sinceMs) continue;
        out.push({
          t: d[o]!,
          powerW: { cpu: orNull(d[o + 1]!), gpu: orNull(d[o + 2]!), ram: orNull(d[o + 3]!) },
          totalPowerW: d[o + 4]!,
        });
      }
    }
    return out;
  }

  get size(): number {
    return this.levels.reduce((n, l) => n + l.count, 0);
  }
}

function orNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}
