/**
 * The terminal side of `pnav measure`: a table on stdout, one row per cell as it finishes, then the
 * totals; a progress line on stderr while a cell runs (only when stderr is a terminal, so CI logs
 * stay clean); the traceback of a failing cell on stderr.
 */
import type { Location, Status } from '../../api/schemas.js';
import type { CellResult, Totals } from './cell-result.js';
import { formatCo2, formatDuration, formatEnergy } from './format.js';
import type { CodeCell } from './notebook.js';
import type { MeasureOutcome, MeasureUi } from './runner.js';

const FIRST_LINE_CHARS = 40;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const COLUMNS = [
  { title: '#', width: 4 },
  { title: 'first line', width: FIRST_LINE_CHARS },
  { title: 'status', width: 11 },
  { title: 'duration', width: 10 },
  { title: 'energy', width: 10 },
  { title: 'CO2eq', width: 10 },
  { title: 'figures', width: 9 },
];

function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are control characters by definition
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function row(cells: string[]): string {
  return `${cells
    .map((cell, i) => truncate(cell, COLUMNS[i]!.width).padEnd(COLUMNS[i]!.width))
    .join(' ')
    .trimEnd()}\n`;
}

export function cellRow(result: CellResult): string {
  const s = result.summary;
  return row([
    String(result.number),
    result.firstLine,
    result.status,
    result.wallS > 0 ? formatDuration(result.wallS) : '',
    s ? formatEnergy(s.facilityEnergyJ) : '',
    s ? formatCo2(s.emissionsG) : '',
    s?.quality ?? (result.status === 'skipped' || result.status === 'not-run' ? '' : 'none'),
  ]);
}

export function totalsLines(totals: Totals): string {
  return (
    `total: ${formatEnergy(totals.facilityEnergyJ)} · ${formatCo2(totals.emissionsG)} CO2eq · ` +
    `${formatDuration(totals.durationS)} · ${totals.measuredCells}/${totals.cells} code cells measured · ` +
    `figures ${totals.quality}\n`
  );
}

export class ConsoleUi implements MeasureUi {
  private timer: NodeJS.Timeout | undefined;
  private total = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
  ) {}

  private get progress(): boolean {
    return Boolean(this.err.isTTY);
  }

  private clearProgress() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.progress) this.err.write('\r\x1b[K');
  }

  started(info: {
    notebookPath: string;
    cells: CodeCell[];
    status: Status;
    kernelName: string;
    location: Location;
  }): void {
    this.total = info.cells.length;
    const { location } = info;
    const { sources } = info.status;
    const methods = sources
      .filter(source => source.available && source.method !== 'none')
      .map(source => `${source.component} ${source.method} (${source.measured ? 'measured' : 'estimated'})`)
      .join(', ');
    this.out.write(
      `pnav measure ${info.notebookPath} · kernel ${info.kernelName} · ${info.cells.length} code cells\n` +
        `${methods} · ${location.countryIso3} ${location.intensityGPerKWh} g CO2eq/kWh (${location.countrySource})\n\n`,
    );
    this.out.write(row(COLUMNS.map(column => column.title)));
    this.out.write(row(COLUMNS.map(column => '-'.repeat(column.width))));
  }

  cellStarted(cell: CodeCell): void {
    if (!this.progress) return;
    const started = Date.now();
    let frame = 0;
    const draw = () => {
      const elapsedS = (Date.now() - started) / 1000;
      const text = `${SPINNER[frame++ % SPINNER.length]} cell ${cell.number}/${this.total} · ${elapsedS.toFixed(1)} s · ${cell.firstLine}`;
      this.err.write(`\r\x1b[K${truncate(text, (this.err.columns || 80) - 1)}`);
    };
    draw();
    this.timer = setInterval(draw, 100);
  }

  cellFinished(result: CellResult): void {
    this.clearProgress();
    this.out.write(cellRow(result));
    if (result.error && result.status === 'error') {
      const traceback = result.error.traceback.join('\n');
      this.err.write(`${this.err.isTTY ? traceback : stripAnsi(traceback)}\n`);
    }
  }

  warn(message: string): void {
    this.clearProgress();
    this.err.write(`pnav measure: warning: ${message}\n`);
  }

  finished(outcome: MeasureOutcome): void {
    this.clearProgress();
    this.out.write(`\n${totalsLines(outcome.totals)}`);
    for (const breach of outcome.breaches) this.out.write(`${breach.message}\n`);
    if (outcome.stopReason) this.out.write(`stopped: ${outcome.stopReason}\n`);
  }
}
