/**
 * Assembles a running sidecar from its config: power sources, store, ledger, sampler, metrics,
 * the express app and the WebSocket stream on one loopback port. `close()` stops it cleanly.
 */
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import type { Location, SourceInfo, Status } from '../api/schemas.js';
import { emissionsG, resolveLocation } from '../carbon/index.js';
import { systemTimeZone } from '../carbon/system-time-zone.js';
import { type SidecarConfig, settingsFromSidecarConfig } from '../config.js';
import { Ledger } from '../ledger/ledger.js';
import { RunReaper } from '../ledger/reaper.js';
import { createMetrics } from '../metrics/metrics.js';
import { createPnavOutputs, type PnavOutputs } from '../outputs/index.js';
import { ByProcessGpuScope } from '../power/gpu/by-process.js';
import { type GpuIdentity, visibleGpuIndices } from '../power/gpu/gpu-visibility.js';
import { createPowerSources, doctor, startAll, stopAll } from '../power/index.js';
import { Meter, type MeterReading } from '../power/meter.js';
import { componentProvenance } from '../power/provenance.js';
import type { PowerSource } from '../power/source.js';
import { SampleBuffer } from '../sampler/sample-buffer.js';
import { Sampler } from '../sampler/sampler.js';
import { settingsPaths } from '../settings/files.js';
import { EnergyTotalsStore } from '../store/energy-totals-store.js';
import { OpenRunCheckpoints } from '../store/open-run-checkpoints.js';
import { RunStore } from '../store/run-store.js';
import { VERSION } from '../util/version.js';
import { createApp, DEFAULT_BODY_LIMIT } from './app.js';
import { createHotRoutes } from './hot-routes.js';
import { listen } from './http.js';
import { writeRowsOwedAtStart } from './owed-csv.js';
import { StreamHub } from './stream.js';
import { StreamBatch } from './stream-batch.js';

export interface RunningSidecar {
  url: string;
  port: number;
  token: string;
  ledger: Ledger;
  /** CSV, exports and the submission outbox that run close writes through. */
  outputs: PnavOutputs;
  /** The periodic sampler; benchmarks drive `tick()` directly to simulate long runs fast. */
  sampler: Sampler;
  /** The express app (its routing table is checked against the OpenAPI description). */
  app: Express;
  close(): Promise<void>;
}

export interface StartOptions {
  token: string;
  log: (msg: string) => void;
  /** Power sources to use instead of probing the machine (the hardware boundary, for tests and benchmarks). */
  power?: {
    sources: PowerSource[];
    info: SourceInfo[];
    hardware: Status['hardware'];
    scope: Status['scope'];
    gpuInventory?: GpuIdentity[];
    gpuScope?: string;
  };
  /** Ask systeminformation for DIMMs and GPUs (slow; tests turn it off). Default true. */
  systemInfo?: boolean;
}

export async function startSidecar(config: SidecarConfig, opts: StartOptions): Promise<RunningSidecar> {
  const { log, token } = opts;
  const startedAt = new Date().toISOString();
  const powerOpts = {
    sysfsRoot: config.sysfsRoot,
    procRoot: config.procRoot,
    gpuIds: config.gpuIds,
    cpuTdpW: config.cpuTdpW,
    nvidiaSmiPath: config.nvidiaSmiPath,
    systemInfo: opts.systemInfo ?? true,
  };
  const power = opts.power ?? (await createPowerSources(powerOpts));
  await startAll(power.sources);

  const timeZone = systemTimeZone();
  const envCountry = process.env.PNAV_COUNTRY;
  const defaultLocation: Location = resolveLocation({ configCountry: config.country, envCountry, timeZone });

  const store = new RunStore({ dataDir: config.dataDir, log });
  const checkpoints = new OpenRunCheckpoints({ dataDir: config.dataDir, log });
  const meter = new Meter(power.sources, log);
  const sidecarSettings = settingsFromSidecarConfig(config);
  const gpuByProcess = new ByProcessGpuScope(config.nvidiaSmiPath ?? 'nvidia-smi', config.procRoot);
  const ledger = new Ledger({
    store,
    meter,
    carbon: { resolveLocation, emissionsG },
    scope: power.scope,
    procRoot: config.procRoot,
    defaults: { pue: config.pue, country: config.country, envCountry, timeZone, typeRam: 'DDR4' },
    settings: {
      sidecar: sidecarSettings,
      fallbackEnvCountry: envCountry,
      paths: settingsPaths(), // HOME and XDG are read once
      mapVisibleGpus: text => visibleGpuIndices(power.gpuInventory ?? [], text),
    },
    gpuByProcess,
    checkpoints,
    limits: { maxOpenRuns: config.maxOpenRuns, maxOpenRunsPerKernel: config.maxOpenRunsPerKernel },
    provenance: componentProvenance(power.sources, power.info, power.scope, power.gpuScope),
    log,
  });
  await ledger.load();
  // Closes as interrupted the runs whose kernel died mid-cell (kill -9, OOM): they never send a close.
  const reaper = new RunReaper(ledger, { procRoot: config.procRoot, maxRunAgeS: config.maxRunAgeS, log }).start();

  const samples = new SampleBuffer();
  const energyTotals = new EnergyTotalsStore({ dataDir: config.dataDir, log });
  const energyTotalsJ = energyTotals.load();
  const storage = {
    dataDir: path.resolve(config.dataDir),
    warnings: [...store.warnings, ...checkpoints.warnings, ...energyTotals.warnings],
  };
  const metrics = createMetrics(power.sources, config.labels, {
    location: defaultLocation,
    energyTotalsJ,
    persistEnergy: totals => energyTotals.put(totals, { durable: true }),
  });
  const status = (): Status => ({
    version: VERSION,
    pid: process.pid,
    startedAt,
    dataDir: config.dataDir,
    host: os.hostname(),
    user: os.userInfo().username,
    labels: config.labels,
    sampleIntervalMs: config.sampleIntervalMs,
    pue: config.pue,
    location: defaultLocation,
    sources: power.info,
    scope: power.scope,
    openRuns: ledger.openCount,
    storage,
    hardware: power.hardware,
  });
  const hub = new StreamHub({ token, status, log });
  const outputs = createPnavOutputs({
    dataDir: path.resolve(config.dataDir),
    runs: { get: id => ledger.get(id), list: filter => ledger.list(filter) },
    hardware: () => power.hardware,
    log,
  });
  await writeRowsOwedAtStart({ ledger, outputs, log }); // rows a crash left unwritten, before anyone asks

  ledger.onEvent((event, run) => {
    if (event === 'opened' || event === 'closed') metrics.setOpenRuns(ledger.openCount);
    if (event === 'closed') metrics.observeRunClosed(run);
    if (event === 'progress') return;
    streamBatch.flush(); // the frames of the tick come before the event, as they happened
    hub.broadcast({ type: 'run', event, run });
  });
  let lastReading: MeterReading | null = null;
  const streamBatch = new StreamBatch({
    send: messages => hub.broadcastAll(messages),
    progress: () => (lastReading ? ledger.progressRuns(lastReading) : []),
    intervalMs: config.sampleIntervalMs,
  });
  const sampler = new Sampler({
    meter,
    intervalMs: config.sampleIntervalMs,
    checkpointIntervalMs: config.checkpointIntervalMs,
    onSample: (sample, reading, energyDeltaJ) => {
      samples.push(sample);
      metrics.observeSample(sample.powerW, energyDeltaJ);
      if (hub.clientCount === 0) return;
      lastReading = reading;
      streamBatch.add(sample);
    },
    onCheckpoint: reading => {
      void gpuByProcess.refresh(); // runs in gpu_mode by-process learn which GPUs their kernel uses
      ledger.checkpoint(reading);
      void energyTotals.put(metrics.energyTotals());
    },
    // Sampled at full rate only for someone: a stream client or an open run.
    idle: () => hub.clientCount === 0 && ledger.openCount === 0,
    log,
  });
  hub.onClient(() => sampler.wake());
  ledger.onEvent(event => {
    if (event === 'opened') sampler.wake();
  });

  const app = createApp({
    token,
    version: VERSION,
    ledger,
    samples,
    status,
    doctor: () => doctor(powerOpts),
    metrics,
    metricsPublic: config.metricsPublic,
    outputs,
    settings: { sidecar: sidecarSettings },
    log,
  });
  const hot = createHotRoutes({ token, bodyLimit: DEFAULT_BODY_LIMIT, ledger, outputs, log });
  const server = await listen(app, hub, config.host, config.port, hot);
  sampler.start();
  outputs.start();

  let closing: Promise<void> | null = null;
  return {
    url: server.url,
    port: server.port,
    token,
    ledger,
    outputs,
    sampler,
    app,
    close: () => {
      closing ??= (async () => {
        reaper.stop();
        sampler.stop();
        streamBatch.stop();
        await server.close();
        await ledger.interruptAll('the sidecar was stopped while this run was open');
        await outputs.stop();
        await stopAll(power.sources);
        await store.flush();
        store.close();
        await checkpoints.flush();
        checkpoints.close();
        void energyTotals.put(metrics.energyTotals());
        await energyTotals.flush();
        energyTotals.close();
      })();
      return closing;
    },
  };
}
