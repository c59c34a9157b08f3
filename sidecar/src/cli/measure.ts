/**
 * `pnav measure NOTEBOOK.ipynb`: runs a notebook headless, measuring every code cell as one run,
 * and writes JSON / PNAV CSV / HTML reports and the executed notebook. Exit codes in
 * measure/exit-codes.ts: 0 ok, 1 a cell failed, 2 setup, 3 budget exceeded, 130 interrupted.
 */
import type { Command } from 'commander';
import { EXIT } from './measure/exit-codes.js';
import { MeasureOptionsError, parseMeasureOptions, type RawMeasureOptions } from './measure/options.js';

export function register(program: Command): void {
  program
    .command('measure')
    .description('run a notebook headless and measure the energy and CO2 of every code cell')
    .argument('<notebook>', 'the .ipynb file to run')
    .option('--kernel <name>', "kernel name (default: the notebook's kernelspec, else python3)")
    .option('--cwd <dir>', "the kernel's working directory (default: the notebook's directory)")
    .option('--json <file>', 'write the JSON report')
    .option('--csv <file>', "write calculadorapnav's 40-column CSV, one row per cell that did not fail")
    .option('--html <file>', 'write a self-contained HTML report with a per-cell chart')
    .option('--executed <file>', 'write the executed notebook, with outputs and pnav cell metadata')
    .option('--max-energy-wh <wh>', 'exit 3 when the notebook uses more energy (PUE included)')
    .option('--max-co2-g <g>', 'exit 3 when the notebook emits more g CO2eq')
    .option('--country <iso3>', 'country of the grid (ISO alpha-3) for cells that name none')
    .option('--timeout <s>', 'interrupt a cell that runs longer than this many seconds (exit 1)')
    .option('--server-url <url>', 'use this Jupyter server instead of starting one')
    .option('--server-token <token>', "the server's token (default: env JUPYTER_TOKEN)")
    .action(async (notebook: string, raw: RawMeasureOptions) => {
      process.exitCode = await runMeasure(notebook, raw);
    });
}

/** @jupyterlab/services logs connection chatter with console.log; it would interleave with our table. */
function silenceLibraryLogs(): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug, warn: console.warn };
  if (!process.env.PNAV_MEASURE_DEBUG) {
    console.log = console.info = console.debug = console.warn = () => {};
  }
  return () => Object.assign(console, saved);
}

export async function runMeasure(notebook: string, raw: RawMeasureOptions): Promise<number> {
  let options: ReturnType<typeof parseMeasureOptions>;
  try {
    options = parseMeasureOptions(notebook, raw);
  } catch (error) {
    if (!(error instanceof MeasureOptionsError)) throw error;
    process.stderr.write(`pnav measure: ${error.message}\n`);
    return EXIT.setupFailed;
  }
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted); // second signal: stop waiting
    process.stderr.write(`\npnav measure: ${signal}: interrupting the kernel and stopping cleanly…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const restoreLogs = silenceLibraryLogs();
  // Loaded here, not at the top: every `pnav` process (the sidecar too) would otherwise load
  // @jupyterlab/services and its dependencies (~18 MB resident) without using them.
  const [{ ConsoleUi }, { measureNotebook }, { writeOutputs }] = await Promise.all([
    import('./measure/console-ui.js'),
    import('./measure/runner.js'),
    import('./measure/write-outputs.js'),
  ]);
  const ui = new ConsoleUi();
  try {
    const outcome = await measureNotebook(options, ui, controller.signal);
    ui.finished(outcome);
    const written = await writeOutputs(outcome, options);
    for (const file of written) process.stderr.write(`wrote ${file}\n`);
    return outcome.exitCode;
  } catch (error) {
    process.stderr.write(`pnav measure: ${(error as Error).message}\n`);
    return controller.signal.aborted ? EXIT.interrupted : EXIT.setupFailed;
  } finally {
    restoreLogs();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
