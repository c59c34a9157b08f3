/**
 * One RAPL energy_uj counter with wraparound handling. The counter wraps at its own
 * max_energy_range_uj (never assumed to be 2^32): whenever a reading goes down, that range is added.
 * The file descriptor stays open and is re-read at offset 0, which makes sysfs regenerate the value.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const UJ_PER_J = 1e6;

export class RaplCounter {
  private fd: number | null = null;
  private readonly buf = Buffer.alloc(32);
  private lastRawUj: number | null = null;
  private accumulatedUj = 0;
  /** Number of wraps seen, for tests and `pnav doctor`. */
  wraps = 0;

  constructor(
    readonly energyPath: string,
    readonly maxRangeUj: number,
  ) {}

  /** Raw counter value in µJ, or null for an empty read. Throws the fs error (EACCES, ENOENT, ...) as is. */
  readRawUj(): number | null {
    this.fd ??= openSync(this.energyPath, 'r');
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    const text = this.buf.toString('ascii', 0, n).trim();
    // sysfs never reads empty, but a file being rewritten can: that is no reading, not a zero.
    if (text === '') return null;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`unreadable value in ${this.energyPath}`);
    return value;
  }

  /** Reads the counter and returns the energy in joules accumulated since the first update(). */
  update(): number {
    const raw = this.readRawUj();
    if (raw === null) return this.accumulatedUj / UJ_PER_J;
    if (this.lastRawUj !== null) {
      const delta = raw >= this.lastRawUj ? raw - this.lastRawUj : raw + this.maxRangeUj - this.lastRawUj;
      if (raw < this.lastRawUj) this.wraps += 1;
      this.accumulatedUj += delta;
    }
    this.lastRawUj = raw;
    return this.accumulatedUj / UJ_PER_J;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** A plausible upper bound on one RAPL domain's power, to size the wrap poller (Zeus sizes for 1,000 W). */
export const MAX_PLAUSIBLE_DOMAIN_POWER_W = 1000;

/** Timers fire no more precisely than this; a poll period below it would not be kept anyway. */
export const MIN_WRAP_POLL_MS = 10;

/**
 * How often a counter must be read so no wrap is missed: half the time the counter takes to wrap at
 * the plausible maximum power, at most 60 s. No 1 s floor: a counter with a range under ~2 kJ wraps
 * in under 2 s at 1 kW, and a floor would let a whole wrap pass between two reads.
 */
export function wrapPollPeriodMs(maxRangeUj: number, maxPowerW = MAX_PLAUSIBLE_DOMAIN_POWER_W): number {
  const wrapMs = (maxRangeUj / UJ_PER_J / maxPowerW) * 1000;
  return Math.round(Math.min(60_000, Math.max(MIN_WRAP_POLL_MS, wrapMs / 2)));
}
