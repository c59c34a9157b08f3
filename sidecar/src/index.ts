/** Library entry of the sidecar: start one in-process, or reuse its parts. */

export { HttpError } from './api/errors.js';
export * from './api/schemas.js';
export { tuneHeapForSidecar } from './cli/heap.js';
export { ConfigError, defaultDataDir, defaultRuntimeDir, parseConfig, type SidecarConfig } from './config.js';
export { Ledger, LedgerError, type ListFilter, type RunEvent } from './ledger/ledger.js';
export { createMetrics, type SidecarMetrics } from './metrics/metrics.js';
export type { PnavOutputs } from './outputs/index.js';
export { Meter, type MeterReading } from './power/meter.js';
export { SampleBuffer } from './sampler/sample-buffer.js';
export { Sampler } from './sampler/sampler.js';
export { type AppDeps, createApp } from './server/app.js';
export { listen, type RunningServer } from './server/http.js';
export {
  claimRuntimeDir,
  type RuntimeInfo,
  readLiveRuntime,
  removeRuntimeFile,
  runtimeFilePath,
  writeRuntimeFile,
} from './server/runtime-file.js';
export { type RunningSidecar, startSidecar } from './server/sidecar.js';
export { StreamHub } from './server/stream.js';
export { Journal } from './store/journal.js';
export { RunStore } from './store/run-store.js';
export { VERSION } from './util/version.js';
