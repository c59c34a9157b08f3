/**
 * Reads every power source at one instant. Runs and epochs take a reading when they open
 * and close (not the last periodic sample), so a 50 ms cell gets its own energy.
 */
import { performance } from 'node:perf_hooks';
import type { Component } from '../api/schemas.js';
import type { DeviceReading, PowerSource } from './source.js';

export interface ComponentReading {
  energyJ: number;
  powerW: number | null;
  devices: DeviceReading[];
}

export interface MeterReading {
  /** performance.now() at the reading: durations come from this clock only. */
  monoMs: number;
  /** Date.now() at the reading: for timestamps only. */
  wallMs: number;
  components: Partial<Record<Component, ComponentReading>>;
}

/** A stretch of time in which a source's reads failed (its last value was kept). */
export interface FailureEpisode {
  reason: string;
  startMonoMs: number;
  /** The first successful read after it, or null while it lasts. */
  endMonoMs: number | null;
}

const MAX_EPISODES_PER_COMPONENT = 64;
/** How long a close waits at most for a sampled source's next sample (a few sampling periods). */
const SETTLE_TIMEOUT_MS = 500;

export class Meter {
  private readonly byComponent = new Map<Component, PowerSource>();
  private readonly last = new Map<Component, ComponentReading>();
  private readonly failed = new Set<string>();
  private readonly episodes = new Map<Component, FailureEpisode[]>();

  constructor(
    readonly sources: readonly PowerSource[],
    private readonly log: (msg: string) => void = () => {},
  ) {
    for (const source of sources)
      if (!this.byComponent.has(source.component)) this.byComponent.set(source.component, source);
  }

  source(component: Component): PowerSource | undefined {
    return this.byComponent.get(component);
  }

  /**
   * For sampled sources (nvidia-smi): waits for a sample past the latest of these readings, then
   * replaces each reading's figure by the one interpolated from the stream's own timestamps.
   * Counter sources (RAPL, NVML) need nothing: their reading is exact at its instant.
   */
  async settle(readings: MeterReading[]): Promise<void> {
    const latestMs = Math.max(...readings.map(r => r.monoMs));
    for (const [component, source] of this.byComponent) {
      if (!source.settle || !source.energyAt || this.failed.has(source.id)) continue;
      await source.settle(latestMs, SETTLE_TIMEOUT_MS);
      for (const reading of readings) {
        const devices = source.energyAt(reading.monoMs);
        const current = reading.components[component];
        if (!devices || !current) continue;
        reading.components[component] = {
          energyJ: devices.reduce((sum, d) => sum + d.energyJ, 0),
          powerW: current.powerW,
          devices,
        };
      }
    }
  }

  /** Failures of a component's source that overlap [startMonoMs, endMonoMs]. */
  health(component: Component, startMonoMs: number, endMonoMs: number): WindowHealth {
    const overlapping = (this.episodes.get(component) ?? []).filter(
      e => e.startMonoMs <= endMonoMs && (e.endMonoMs === null || e.endMonoMs >= startMonoMs),
    );
    if (overlapping.length === 0) return { degraded: null, unavailable: false };
    // No value in the whole window: failing since before it started and still failing at its end.
    const unavailable = overlapping.some(
      e => e.startMonoMs <= startMonoMs && (e.endMonoMs === null || e.endMonoMs >= endMonoMs),
    );
    return { degraded: [...new Set(overlapping.map(e => e.reason))].join('; '), unavailable };
  }

  read(): MeterReading {
    const reading: MeterReading = { monoMs: performance.now(), wallMs: Date.now(), components: {} };
    for (const [component, source] of this.byComponent) {
      try {
        const r = source.read();
        const value = { energyJ: r.energyJ, powerW: r.powerW, devices: r.devices };
        this.last.set(component, value);
        reading.components[component] = value;
        this.failed.delete(source.id);
        const open = this.episodes.get(component)?.at(-1);
        if (open && open.endMonoMs === null) open.endMonoMs = reading.monoMs;
      } catch (err) {
        // A failing counter must not fail the request: keep its last value (no energy in between),
        // and remember when, so the runs whose window it touches say they are degraded.
        const reason = `${source.id}: ${(err as Error).message}`;
        if (!this.failed.has(source.id)) {
          this.log(`power source ${source.id} read failed: ${(err as Error).message}`);
          const list = this.episodes.get(component) ?? [];
          list.push({ reason, startMonoMs: reading.monoMs, endMonoMs: null });
          if (list.length > MAX_EPISODES_PER_COMPONENT) list.shift();
          this.episodes.set(component, list);
        }
        this.failed.add(source.id);
        reading.components[component] = this.last.get(component) ?? { energyJ: 0, powerW: null, devices: [] };
      }
    }
    return reading;
  }
}

export interface WindowHealth {
  /** Why the source failed inside the window, else null. */
  degraded: string | null;
  /** The source gave no value at all between the two readings. */
  unavailable: boolean;
}

/** Energy of a component reading, restricted to some GPU ids when a run asked for them. */
export function componentEnergyJ(reading: ComponentReading | undefined, deviceIds: readonly number[] | null): number {
  if (!reading) return 0;
  if (!deviceIds || reading.devices.length === 0) return reading.energyJ;
  let sum = 0;
  for (const device of reading.devices) {
    const n = deviceNumber(device.deviceId);
    if (n !== null && deviceIds.includes(n)) sum += device.energyJ;
  }
  return sum;
}

/** Per-device energy between two readings of a component, by device number ('gpu3' → 3). */
export function deviceWindowJ(
  start: ComponentReading | undefined,
  end: ComponentReading | undefined,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const device of end?.devices ?? []) {
    const n = deviceNumber(device.deviceId);
    if (n === null) continue;
    const before = start?.devices.find(d => d.deviceId === device.deviceId)?.energyJ ?? 0;
    out.set(n, Math.max(0, device.energyJ - before));
  }
  return out;
}

/** Device ids are 'N' or end in N ('gpu0', 'nvidia:0'). */
export function deviceNumber(deviceId: string): number | null {
  const m = /(\d+)$/.exec(deviceId);
  return m ? Number(m[1]) : null;
}
