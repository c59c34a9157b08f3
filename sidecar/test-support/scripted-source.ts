/**
 * A power source whose cumulative counter is set by the test: a stand-in for a hardware
 * counter (the hardware boundary), nothing of ours.
 */
import { performance } from 'node:perf_hooks';
import type { Component, Method } from '../src/api/schemas.js';
import type { DeviceReading, PowerSource, ProbeResult, SourceReading } from '../src/power/source.js';

export class ScriptedCounter implements PowerSource {
  energyJ = 0;
  powerW: number | null = null;
  devices_: DeviceReading[] = [];
  reads = 0;
  /** The counter's update period (see PowerSource.updatePeriodMs). */
  updatePeriodMs = 0;
  /** When set, read() throws this (a source failing mid-run). */
  failWith: string | null = null;

  constructor(
    readonly id: string,
    readonly component: Component,
    readonly method: Method,
    readonly measured: boolean,
  ) {}

  async probe(): Promise<ProbeResult> {
    return { available: true };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  read(): SourceReading {
    this.reads++;
    if (this.failWith) throw new Error(this.failWith);
    return { monoMs: performance.now(), energyJ: this.energyJ, powerW: this.powerW, devices: this.devices_ };
  }
  devices(): { id: string; name: string }[] {
    return this.devices_.map(d => ({ id: d.deviceId, name: d.deviceId }));
  }
}

export function scriptedMachine() {
  return {
    cpu: new ScriptedCounter('rapl', 'cpu', 'rapl', true),
    gpu: new ScriptedCounter('nvidia-nvml', 'gpu', 'nvml', true),
    ram: new ScriptedCounter('ram-model', 'ram', 'ram-model', false),
  };
}
