/**
 * `pnav measure`'s core: a Jupyter server (ours or the user's), a sidecar, one kernel, and the
 * notebook's code cells executed in order, each measured as one run. It stops where Run All would
 * (a failing cell), at a budget breach, on a kernel death and on SIGINT/SIGTERM, and always cleans up.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Location, Run, Status } from '../../api/schemas.js';
import { type BudgetBreach, type Budgets, budgetBreaches } from './budget.js';
import { cellCode } from './cell-code.js';
import { type CellResult, type CellStatus, summariseRun, type Totals, totalsOf } from './cell-result.js';
import { EXIT } from './exit-codes.js';
import { RunFinder } from './find-run.js';
import { type JupyterConnection, startJupyterServer } from './jupyter-server.js';
import { type Execution, KernelDriver } from './kernel.js';
import { expectedLocation, type RunsLocation, runsLocation } from './location.js';
import { type CodeCell, codeCells, type Notebook, notebookKernelName, readNotebook } from './notebook.js';
import type { MeasureOptions } from './options.js';
import { type SidecarAccess, SidecarClient } from './sidecar-client.js';
import { ensureSidecar, findRunningSidecar, proxiedSidecar } from './sidecar-ensure.js';

export interface MeasureUi {
  /** `location`: the one wrapped cells will use (`--country`, else the sidecar's default). */
  started(info: {
    notebookPath: string;
    cells: CodeCell[];
    status: Status;
    kernelName: string;
    location: Location;
  }): void;
  cellStarted(cell: CodeCell): void;
  cellFinished(result: CellResult): void;
  warn(message: string): void;
}

export interface MeasureOutcome {
  notebookPath: string;
  notebook: Notebook;
  startedAt: string;
  endedAt: string;
  results: CellResult[];
  totals: Totals;
  breaches: BudgetBreach[];
  budgets: Budgets;
  /** Why execution stopped before the last cell, or null when every cell ran. */
  stopReason: string | null;
  exitCode: number;
  status: Status;
  /** The location the runs used (see location.ts). */
  location: RunsLocation;
  kernel: { id: string; name: string };
  sidecarSource: string;
  jupyter: 'own' | 'external';
  warnings: string[];
}

export class MeasureSetupError extends Error {}

interface Environment {
  connection: JupyterConnection;
  access: SidecarAccess;
  jupyter: 'own' | 'external';
  /** The kernel's session path, relative to the server root. */
  sessionPath: string;
  /** Set when the kernel must change directory after starting (see --cwd). */
  chdir?: string;
  release(): Promise<void>;
}

async function reachable(access: SidecarAccess): Promise<boolean> {
  try {
    await new SidecarClient(access).healthz();
    return true;
  } catch {
    return false;
  }
}

/** The user's server: the kernels' sidecar is the one behind its `/pnav/` proxy, else the local one. */
async function externalEnvironment(options: MeasureOptions): Promise<Environment> {
  const connection = { baseUrl: options.serverUrl!.replace(/\/*$/, '/'), token: options.serverToken! };
  const proxy = proxiedSidecar(connection.baseUrl, connection.token);
  const local = await findRunningSidecar();
  const access = (await reachable(proxy)) ? proxy : local && (await reachable(local.access)) ? local.access : null;
  if (!access) {
    throw new MeasureSetupError(
      `no sidecar reachable: neither ${connection.baseUrl}pnav/ (the pnav_lab server extension) nor a local one`,
    );
  }
  const sessionPath = path.posix.join(options.cwd ?? '', path.basename(options.notebook));
  return { connection, access, jupyter: 'external', sessionPath, release: async () => {} };
}

/** Our own server, rooted at the notebook's directory; its kernels inherit the sidecar's discovery variables. */
async function ownEnvironment(options: MeasureOptions): Promise<Environment> {
  const sidecar = await ensureSidecar();
  const rootDir = path.dirname(options.notebook);
  const cwd = options.cwd ? path.resolve(options.cwd) : undefined;
  if (cwd && !existsSync(cwd)) {
    await sidecar.release();
    throw new MeasureSetupError(`--cwd: ${cwd} does not exist`);
  }
  try {
    const server = await startJupyterServer({
      rootDir,
      env: { PNAV_SIDECAR_URL: sidecar.url, PNAV_SIDECAR_TOKEN: sidecar.token, PNAV_RUNTIME_DIR: sidecar.runtimeDir },
    });
    return {
      connection: server,
      access: sidecar.access,
      jupyter: 'own',
      sessionPath: path.basename(options.notebook),
      chdir: cwd && cwd !== rootDir ? cwd : undefined,
      release: async () => {
        await server.stop();
        await sidecar.release();
      },
    };
  } catch (error) {
    await sidecar.release();
    throw error;
  }
}

const FAILED: CellStatus[] = ['error', 'timeout', 'kernel-died', 'interrupted'];

function stopReasonOf(cell: CodeCell, execution: Execution): string {
  const where = `cell ${cell.number} (${cell.firstLine || 'empty first line'})`;
  switch (execution.status) {
    case 'error':
      return `${where} failed: ${execution.error ? `${execution.error.ename}: ${execution.error.evalue}` : 'error'}`;
    case 'timeout':
      return `${where} ran past --timeout and was interrupted`;
    case 'kernel-died':
      return `the kernel died in ${where}`;
    default:
      return `interrupted (SIGINT/SIGTERM) in ${where}`;
  }
}

/** Closes a run the kernel could not close itself (it died, or did not finish after the interrupt). */
async function closeLeftOpen(client: SidecarClient, run: Run, reason: string): Promise<Run> {
  if (run.status !== 'open') return run;
  return client.closeRun(run.id, 'interrupted', reason);
}

export async function measureNotebook(
  options: MeasureOptions,
  ui: MeasureUi,
  signal: AbortSignal,
): Promise<MeasureOutcome> {
  const startedAt = new Date().toISOString();
  const notebook = await readNotebook(options.notebook).catch(error => {
    throw new MeasureSetupError((error as Error).message);
  });
  const cells = codeCells(notebook);
  const environment = options.serverUrl ? await externalEnvironment(options) : await ownEnvironment(options);
  const client = new SidecarClient(environment.access);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    ui.warn(message);
  };
  let kernel: KernelDriver | undefined;
  try {
    const status = await client.status();
    const kernelName = options.kernel ?? notebookKernelName(notebook) ?? 'python3';
    kernel = await KernelDriver.start(environment.connection, { kernelName, path: environment.sessionPath });
    const setup = await kernel.runSetup(
      [
        '%load_ext pnav_lab',
        ...(environment.chdir ? [`__import__('os').chdir(${JSON.stringify(environment.chdir)})`] : []),
      ].join('\n'),
    );
    if (!setup.ok) throw new MeasureSetupError(`the kernel could not load pnav_lab: ${setup.message}`);
    const finder = new RunFinder(client, kernel.kernelId);
    await finder.markExisting();
    const expected = expectedLocation(status.location, options.country);
    ui.started({ notebookPath: options.notebook, cells, status, kernelName, location: expected });

    const results: CellResult[] = [];
    const budgets: Budgets = { maxEnergyWh: options.maxEnergyWh, maxCo2G: options.maxCo2G };
    let stopReason: string | null = null;
    let breaches: BudgetBreach[] = [];
    for (const cell of cells) {
      const base = { number: cell.number, index: cell.index, cellId: cell.cellId, firstLine: cell.firstLine };
      if (stopReason !== null || signal.aborted) {
        stopReason ??= `interrupted (SIGINT/SIGTERM) before cell ${cell.number}`;
        results.push(notRun(base, false, 'not-run'));
        continue;
      }
      if (cell.source.trim() === '') {
        const skipped = notRun(base, false, 'skipped');
        results.push(skipped);
        ui.cellFinished(skipped);
        continue;
      }
      ui.cellStarted(cell);
      const code = cellCode(cell.source, cell.firstLine, { country: options.country });
      const execution = await kernel.execute(code.code, {
        cellId: cell.cellId,
        timeoutMs: options.timeoutS ? options.timeoutS * 1000 : undefined,
        signal,
      });
      const result: CellResult = {
        ...base,
        ownMagic: code.ownMagic,
        status: execution.status,
        executionCount: execution.executionCount,
        wallS: execution.wallS,
        error: execution.error,
        outputs: execution.outputs,
        run: null,
        summary: null,
        note: null,
      };
      // After a kernel death the magic never closed its run; after an interrupt it usually did.
      let run = await finder.runOfCell(cell.cellId, execution.status === 'ok' ? undefined : 3);
      if (run) {
        run = execution.status === 'kernel-died' ? run : await finder.untilClosed(run);
        if (!code.ownMagic && code.label !== undefined) run = await finder.ensureLabel(run, code.label);
        if (run.status === 'open') {
          run = await closeLeftOpen(client, run, stopReasonOf(cell, execution));
          result.note = 'run closed as interrupted by pnav measure';
        }
        result.run = run;
        result.summary = summariseRun(run);
      } else {
        result.note = 'no run recorded: the kernel could not report to the sidecar (see the cell output)';
        warn(`cell ${cell.number}: ${result.note}`);
      }
      results.push(result);
      ui.cellFinished(result);
      if (FAILED.includes(execution.status)) {
        stopReason = stopReasonOf(cell, execution);
        continue;
      }
      breaches = budgetBreaches(totalsOf(results), budgets);
      if (breaches.length > 0) stopReason = `${breaches.map(b => b.message).join('; ')} (after cell ${cell.number})`;
    }

    const totals = totalsOf(results);
    const stoppedBy = results.find(result => FAILED.includes(result.status));
    const exitCode =
      signal.aborted || stoppedBy?.status === 'interrupted'
        ? EXIT.interrupted
        : stoppedBy
          ? EXIT.cellFailed
          : breaches.length > 0
            ? EXIT.budgetExceeded
            : EXIT.ok;
    return {
      notebookPath: options.notebook,
      notebook,
      startedAt,
      endedAt: new Date().toISOString(),
      results,
      totals,
      breaches,
      budgets,
      stopReason,
      exitCode,
      status,
      location: runsLocation(results, expected),
      kernel: { id: kernel.kernelId, name: kernelName },
      sidecarSource: environment.access.source,
      jupyter: environment.jupyter,
      warnings,
    };
  } finally {
    await kernel?.shutdown();
    await environment.release();
  }
}

function notRun(
  base: Pick<CellResult, 'number' | 'index' | 'cellId' | 'firstLine'>,
  ownMagic: boolean,
  status: 'skipped' | 'not-run',
): CellResult {
  return {
    ...base,
    ownMagic,
    status,
    executionCount: null,
    wallS: 0,
    error: null,
    outputs: [],
    run: null,
    summary: null,
    note: status === 'skipped' ? 'empty cell' : null,
  };
}
