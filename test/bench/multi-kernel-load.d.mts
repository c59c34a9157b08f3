/** Types of multi-kernel-load.mjs, for the integration test that runs it at a reduced size. */
import type { ChildProcess } from 'node:child_process';

export interface BenchSidecar {
  url: string;
  token: string;
  pid: number;
  runtimeDir: string;
  dataDir: string;
  runtimeFile: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function startSidecar(options: { runtimeDir: string; dataDir: string; args?: string[] }): Promise<BenchSidecar>;

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  kernels: number;
  cells: number;
  runs: number;
  loadS: number;
  throughputRunsPerS: number;
  cellWallMs: LatencyStats;
  runOpenToCloseMs: LatencyStats;
  probeOpenCloseRoundTripMs: LatencyStats;
  energy: { machineJ: number; attributedJ: number; sumOfRunWindowsJ: number; attributedShareOfMachine: number };
  problems: string[];
}

export function runLoad(options: {
  kernels: number;
  cells: number;
  startConcurrency?: number;
  log?: (line: string) => void;
}): Promise<LoadResult>;
