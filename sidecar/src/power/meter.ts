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

export class Meter {
  private readonly byComponent = new Map<Component, PowerSource>();
  private readonly last = new Map<Component, ComponentReading>();
  private readonly failed = new Set<string>();

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

  read(): MeterReading {
    const reading: MeterReading = { monoMs: performance.now(), wallMs: Date.now(), components: {} };
    for (const [component, source] of this.byComponent) {
      try {
        const r = source.read();
        const value = { energyJ: r.energyJ, powerW: r.powerW, devices: r.devices };
        this.last.set(component, value);
        reading.components[component] = value;
        this.failed.delete(source.id);
      } catch (err) {
        // A failing counter must not fail the request: keep its last value (no energy in between).
        if (!this.failed.has(source.id)) this.log(`power source ${source.id} read failed: ${(err as Error).message}`);
        this.failed.add(source.id);
        reading.components[component] = this.last.get(component) ?? { energyJ: 0, powerW: null, devices: [] };
      }
    }
    return reading;
  }
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

/** Device ids are 'N' or end in N ('gpu0', 'nvidia:0'). */
function deviceNumber(deviceId: string): number | null {
  const m = /(\d+)$/.exec(deviceId);
  return m ? Number(m[1]) : null;
}
