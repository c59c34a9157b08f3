/**
 * One interface for every power source (the Zeus model): a probe that says
 * why a source is or is not usable, and a synchronous read of a cumulative
 * energy counter, so a run can read every source at the instant it opens and
 * closes instead of waiting for the next periodic sample.
 */
import type { Component, Method } from '../api/schemas.js';

export interface ProbeResult {
  available: boolean;
  /** Why the source cannot be used (permission denied, no device, ...). */
  reason?: string;
  /** The exact command or setting that makes it usable. */
  fix?: string;
  /** Free text shown by `pnav doctor` (domains found, TDP used, ...). */
  detail?: string;
}

export interface DeviceReading {
  deviceId: string;
  /** Cumulative since the source started; wraparound already handled. */
  energyJ: number;
  powerW: number | null;
}

export interface SourceReading {
  /** Monotonic milliseconds (performance.now() clock) of the reading. */
  monoMs: number;
  /** Cumulative energy since start(), never decreasing. */
  energyJ: number;
  /** Instantaneous or last-interval power, where known. */
  powerW: number | null;
  devices: DeviceReading[];
}

export interface PowerSource {
  /** Stable id, e.g. 'rapl', 'nvidia-nvml', 'nvidia-smi', 'cpu-tdp-load', 'ram-model'. */
  readonly id: string;
  readonly component: Component;
  readonly method: Method;
  /** True for hardware counters (RAPL, NVML); false for estimates. */
  readonly measured: boolean;
  /**
   * How often the value behind read() changes (counter update or sampling period), in ms: a window
   * shorter than a few of these is flagged coarse. 0 for models that are exact at any length.
   */
  readonly updatePeriodMs?: number;
  /** Checks availability without side effects that outlive the call. */
  probe(): Promise<ProbeResult>;
  /** Starts background work (streams, wrap pollers). Called once after a successful probe. */
  start(): Promise<void>;
  /** Reads the cumulative counter now. Cheap and synchronous: safe on every request. */
  read(): SourceReading;
  /**
   * Sampled sources only (nvidia-smi): resolves once a sample at or after monoMs has arrived (or
   * timeoutMs passed), so energyAt can interpolate the window's end instead of extrapolating it.
   */
  settle?(monoMs: number, timeoutMs: number): Promise<void>;
  /** Sampled sources only: cumulative energy per device at monoMs, interpolated between samples; null when outside the history. */
  energyAt?(monoMs: number): DeviceReading[] | null;
  /** Releases background work (child processes, timers). */
  stop(): Promise<void>;
  /** Devices behind this source, for status and `pnav doctor`. */
  devices(): { id: string; name: string }[];
}
