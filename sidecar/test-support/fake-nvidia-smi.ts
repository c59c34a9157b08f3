/** Wraps the fake `nvidia-smi` fixture script in a per-test executable with its configuration. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAKE_SMI_SCRIPT = fileURLToPath(new URL('./nvidia-smi', import.meta.url));

export interface FakeSmiConfig {
  gpus?: string;
  /** MIG instances "gpuIndex MIG-uuid" separated by ';'. */
  mig?: string;
  /** Seconds each --query-compute-apps takes. */
  appsDelayS?: number;
  /** Streamed lines come in bursts of this many rounds, as through a block-buffered pipe. */
  burst?: number;
  dieAfter?: number;
  noInstant?: boolean;
}

export interface FakeSmi {
  path: string;
  logPath: string;
  setPower(index: number, powerW: number | '[N/A]'): void;
  /** The compute processes the driver reports: pid, GPU UUID, used memory in MiB. */
  setApps(apps: { pid: number; gpuUuid: string; usedMemoryMiB: number }[]): void;
}

export function makeFakeNvidiaSmi(dir: string, config: FakeSmiConfig = {}): FakeSmi {
  const powerDir = join(dir, 'power');
  mkdirSync(powerDir, { recursive: true });
  const logPath = join(dir, 'smi.log');
  const appsPath = join(dir, 'compute-apps.csv');
  writeFileSync(appsPath, '');
  const vars: Record<string, string> = {
    FAKE_SMI_POWER_DIR: powerDir,
    FAKE_SMI_LOG: logPath,
    FAKE_SMI_APPS_FILE: appsPath,
  };
  if (config.mig !== undefined) vars.FAKE_SMI_MIG = config.mig;
  if (config.appsDelayS !== undefined) vars.FAKE_SMI_APPS_DELAY = String(config.appsDelayS);
  if (config.burst !== undefined) vars.FAKE_SMI_BURST = String(config.burst);
  if (config.gpus !== undefined) vars.FAKE_SMI_GPUS = config.gpus;
  if (config.dieAfter !== undefined) vars.FAKE_SMI_DIE_AFTER = String(config.dieAfter);
  if (config.noInstant) vars.FAKE_SMI_NO_INSTANT = '1';
  const exports = Object.entries(vars)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
  const path = join(dir, 'nvidia-smi');
  writeFileSync(path, `#!/bin/sh\n${exports}\nexec '${FAKE_SMI_SCRIPT}' "$@"\n`);
  chmodSync(path, 0o755);
  return {
    path,
    logPath,
    setPower: (index, powerW) => writeFileSync(join(powerDir, String(index)), `${powerW}\n`),
    setApps: apps =>
      writeFileSync(appsPath, apps.map(a => `${a.pid}, ${a.gpuUuid}, ${a.usedMemoryMiB} MiB\n`).join('')),
  };
}
