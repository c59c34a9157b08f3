/** The GPU slot when no usable GPU exists: method 'none', zero energy, and the reason. */
import type { PowerSource, ProbeResult, SourceReading } from '../source.js';

export class NoGpuSource implements PowerSource {
  readonly id = 'gpu-none';
  readonly component = 'gpu' as const;
  readonly method = 'none' as const;
  readonly measured = false;
  readonly updatePeriodMs = 0;

  constructor(private readonly why: string) {}

  async probe(): Promise<ProbeResult> {
    return { available: true, detail: this.why };
  }

  async start(): Promise<void> {}

  read(): SourceReading {
    return { monoMs: performance.now(), energyJ: 0, powerW: 0, devices: [] };
  }

  async stop(): Promise<void> {}

  devices(): { id: string; name: string }[] {
    return [];
  }
}
