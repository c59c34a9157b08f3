/** The source reading of a set of GPUs: their energies summed, and their powers when every GPU has one. */
import type { DeviceReading, SourceReading } from '../source.js';

export function gpuSourceReading(monoMs: number, devices: DeviceReading[]): SourceReading {
  let energyJ = 0;
  let powerW: number | null = 0;
  for (const d of devices) {
    energyJ += d.energyJ;
    // One GPU without a power figure makes the total unknown, not smaller.
    powerW = powerW === null || d.powerW === null ? null : powerW + d.powerW;
  }
  return { monoMs, energyJ, powerW, devices };
}
