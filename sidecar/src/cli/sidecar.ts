/** `pnav sidecar`: serve the local API until SIGINT/SIGTERM. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError, parseConfig, type RawSidecarOptions } from '../config.js';
import {
  claimRuntimeDir,
  removeRuntimeFile,
  runtimeFilePath,
  tryLockFile,
  writeRuntimeFile,
} from '../server/runtime-file.js';
import { startSidecar } from '../server/sidecar.js';
import { ensurePrivateDir } from '../store/journal.js';
import { UntrustedPathError } from '../util/trusted-path.js';
import { VERSION } from '../util/version.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command('sidecar')
    .description('serve the PNAV Lab sidecar: power sampling, run ledger and local API on loopback')
    .option('--host <host>', 'loopback address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '0')
    .option('--data-dir <dir>', 'where runs are stored (env PNAV_DATA_DIR; default ~/.local/share/pnav-lab)')
    .option(
      '--runtime-dir <dir>',
      "where pnav-sidecar.json is written (env PNAV_RUNTIME_DIR; default Jupyter's runtime dir)",
    )
    .option(
      '--sample-interval <ms>',
      'sampling period in milliseconds (default: the sample_interval_ms setting, else 1000; see pnav config)',
    )
    .option('--checkpoint-interval <ms>', 'how often open runs are checkpointed, in milliseconds', '1000')
    .option('--max-open-runs <n>', 'open runs kept at most; past it opening a run answers 429', '10000')
    .option('--max-open-runs-per-kernel <n>', 'open runs one kernel (or pid) may keep', '1000')
    .option('--max-run-age <s>', 'close a run still open after this many seconds as interrupted (0: never)', '2592000')
    .option('--sysfs-root <dir>', 'root of sysfs (containers may mount the host one elsewhere)', '/sys')
    .option('--proc-root <dir>', 'root of procfs', '/proc')
    .option('--country <iso3>', 'country of the machine, ISO 3166-1 alpha-3 (e.g. ESP)')
    .option('--pue <pue>', 'power usage effectiveness of the facility (1..3)')
    .option('--gpu-ids <ids>', 'comma-separated GPU indices to measure')
    .option('--cpu-tdp <watts>', 'CPU TDP per socket in W when RAPL is unavailable')
    .option('--label <k=v>', 'label added to status and metrics (repeatable)', collect)
    .option('--metrics-public', 'serve /metrics without the bearer token (still loopback only)')
    .option('--nvidia-smi <path>', 'nvidia-smi executable to use')
    .action(async (opts: RawSidecarOptions) => {
      process.exitCode = await serve(opts);
    });
}

const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} pnav-sidecar: ${msg}\n`);

async function serve(opts: RawSidecarOptions): Promise<number> {
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(opts);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`pnav sidecar: ${err.message}\n`);
    return 2;
  }
  let claim: Awaited<ReturnType<typeof claimRuntimeDir>>;
  try {
    claim = await claimRuntimeDir(config.runtimeDir, { log });
  } catch (err) {
    if (!(err instanceof UntrustedPathError)) throw err;
    process.stderr.write(
      `pnav sidecar: ${err.message}; set --runtime-dir or PNAV_RUNTIME_DIR to a directory only you can write\n`,
    );
    return 1;
  }
  if (claim.kind === 'running') {
    process.stdout.write(
      `pnav sidecar already running at ${claim.info.url} (pid ${claim.info.pid}, runtime file ${runtimeFilePath(config.runtimeDir)})\n`,
    );
    return 0;
  }
  // One sidecar per data dir too: two writers would interleave one journal.
  const dataLock = path.join(config.dataDir, 'sidecar.lock');
  let releaseData: (() => void) | null;
  try {
    ensurePrivateDir(config.dataDir);
    // The second try succeeds when the first only cleared a lock left by a dead sidecar.
    releaseData = tryLockFile(dataLock) ?? tryLockFile(dataLock);
  } catch (err) {
    // A read-only mount, a full disk, no permission: one line naming the dir, not a stack trace.
    claim.release();
    process.stderr.write(`pnav sidecar: cannot use data dir ${config.dataDir}: ${(err as Error).message}\n`);
    return 1;
  }
  if (!releaseData) {
    claim.release();
    process.stderr.write(`pnav sidecar: data dir ${config.dataDir} is in use by another pnav sidecar\n`);
    return 1;
  }

  const token = randomBytes(32).toString('hex');
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  try {
    sidecar = await startSidecar(config, { token, log });
  } catch (err) {
    claim.release();
    releaseData();
    process.stderr.write(`pnav sidecar: could not start: ${(err as Error).message}\n`);
    return 1;
  }
  const file = writeRuntimeFile(config.runtimeDir, {
    url: sidecar.url,
    token,
    pid: process.pid,
    version: VERSION,
    started_at: new Date().toISOString(),
    data_dir: config.dataDir,
  });
  claim.release();
  process.stdout.write(`pnav sidecar ${VERSION} listening on ${sidecar.url} (runtime file ${file})\n`);

  return new Promise<number>(resolve => {
    let stopping = false;
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log(`stopping (${why})`);
      // A hung close must not keep the process (and its runtime file) around forever.
      setTimeout(() => {
        removeRuntimeFile(config.runtimeDir);
        releaseData();
        process.exit(code || 1);
      }, 10_000).unref();
      try {
        await sidecar.close();
      } catch (err) {
        log(`error while stopping: ${(err as Error).message}`);
      }
      removeRuntimeFile(config.runtimeDir);
      releaseData();
      resolve(code);
    };
    process.once('SIGINT', () => void stop('SIGINT', 0));
    process.once('SIGTERM', () => void stop('SIGTERM', 0));
    process.once('SIGHUP', () => void stop('SIGHUP', 0));
    process.on('uncaughtException', err => {
      log(`uncaught exception: ${err.stack ?? err.message}`);
      void stop('uncaught exception', 1);
    });
  });
}
