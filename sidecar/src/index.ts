/** Library entry of the sidecar: start one in-process, or reuse its parts. */
export * from './api/schemas.js';
export { ConfigError, defaultDataDir, defaultRuntimeDir, parseConfig, type SidecarConfig } from './config.js';
export { Ledger, LedgerError, type ListFilter, type RunEvent } from './ledger/ledger.js';
export { Meter, type MeterReading } from './ledger/meter.js';
export { createMetrics, type SidecarMetrics } from './metrics/metrics.js';
export { tuneHeapForSidecar } from './runtime/heap.js';
export {
  claimRuntimeDir,
  type RuntimeInfo,
  readLiveRuntime,
  removeRuntimeFile,
  runtimeFilePath,
  writeRuntimeFile,
} from './runtime/runtime-file.js';
export { VERSION } from './runtime/version.js';
export { SampleBuffer } from './sampler/sample-buffer.js';
export { Sampler } from './sampler/sampler.js';
export { type AppDeps, createApp } from './server/app.js';
export { HttpError } from './server/errors.js';
export { listen, type RunningServer } from './server/http.js';
export type { PnavOutputs } from './server/outputs-port.js';
export { type RunningSidecar, startSidecar } from './server/sidecar.js';
export { StreamHub } from './server/stream.js';
export { Journal } from './store/journal.js';
export { RunStore } from './store/run-store.js';
