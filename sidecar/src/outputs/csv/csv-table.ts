/**
 * One CSV file with a fixed header, written the way calculadorapnav's save_to_file does, but safely:
 * - a file whose header differs, or that holds no data row, is kept under calculadorapnav's
 *   backup names (`X.csv.bak`, then `X.csv_0.bak`, `X.csv_1.bak`, …) and a new file is started;
 * - `append` adds rows after the existing bytes with one O_APPEND write + fdatasync when the file
 *   exists, has our header, a data row and a final newline (the per-cell fast path); otherwise,
 *   and in `update` mode, the whole file is rewritten atomically (see util/atomic-file.ts), which also
 *   repairs a torn last line;
 * - `update` replaces the rows previously written for the same key (our run id), found through an
 *   append-only index next to the CSV, and appends when there are none.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import {
  type AppendProbe,
  appendDurable,
  appendLineLoose,
  appendLineLooseNow,
  appendNow,
  DiskWriteError,
  KeyedMutex,
  writeFileAtomic,
} from '../../util/atomic-file.js';

export type OnCsvWrite = 'append' | 'update';

/** key (run id) → sha256 of each CSV line written for it, in file order. */
type RowIndex = Map<string, string[]>;

/**
 * One index line: `add` (an append: more lines for the key) or `set` (the key's lines after a
 * rewrite). Plain appends add one JSON line without fsync: losing it (power cut) only makes a
 * later `update` of that run append instead of replace, the same as a damaged index.
 */
interface IndexEntry {
  key: string;
  op: 'add' | 'set';
  rows: string[];
}

const mutex = new KeyedMutex();

/** The index that makes `update` work: calculadorapnav's 40 columns carry no run id. */
export function indexPathFor(csvPath: string): string {
  return path.join(path.dirname(csvPath), `.${path.basename(csvPath)}.pnav-index.jsonl`);
}

function lineHash(line: string): string {
  return createHash('sha256').update(line).digest('hex');
}

/** One CSV line (no newline). Newlines inside a cell become spaces so every row is one line. */
export function csvLine(cells: string[]): string {
  return stringify([cells.map(cell => cell.replace(/[\r\n]+/g, ' '))]).replace(/\n$/, '');
}

async function readIfExists(filePath: string): Promise<string | null> {
  try {
    return await readFile(filePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function exists(filePath: string): Promise<boolean> {
  return stat(filePath).then(
    () => true,
    () => false,
  );
}

/** calculadorapnav's `backup()`: X.csv → X.csv.bak, else X.csv_0.bak, X.csv_1.bak, … Returns the name used. */
export async function backupFile(filePath: string): Promise<string> {
  let candidate = `${filePath}.bak`;
  for (let n = 0; await exists(candidate); n++) candidate = `${filePath}_${n}.bak`;
  try {
    await rename(filePath, candidate);
  } catch (error) {
    throw new DiskWriteError((error as NodeJS.ErrnoException).code ?? 'EUNKNOWN', candidate, error);
  }
  return candidate;
}

/** Folds the index lines in order; unreadable lines (a torn or edited index) are skipped. */
async function readIndex(csvPath: string): Promise<RowIndex> {
  const index: RowIndex = new Map();
  const text = await readIfExists(indexPathFor(csvPath)).catch(() => null);
  for (const line of text?.split('\n') ?? []) {
    let entry: IndexEntry;
    try {
      entry = JSON.parse(line) as IndexEntry;
    } catch {
      continue; // a damaged index only costs `update` its memory
    }
    if (typeof entry?.key !== 'string' || !Array.isArray(entry.rows)) continue;
    const rows = entry.rows.filter(row => typeof row === 'string');
    index.set(entry.key, entry.op === 'add' ? [...(index.get(entry.key) ?? []), ...rows] : rows);
  }
  return index;
}

/** The index, compacted to one `set` line per key; after a whole-file rewrite. Best effort (see IndexEntry). */
async function writeIndex(csvPath: string, index: RowIndex): Promise<void> {
  const lines = [...index].map(([key, rows]) => `${JSON.stringify({ key, op: 'set', rows } satisfies IndexEntry)}\n`);
  await writeFileAtomic(indexPathFor(csvPath), lines.join('')).catch(() => undefined);
}

/** Number of fields of one CSV line (quotes honoured). */
function fieldCount(line: string): number {
  let count = 1;
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) count++;
  }
  return count;
}

function splitLines(content: string): string[] {
  const lines = content.split('\n').map(line => line.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface UpsertResult {
  path: string;
  /** Where a mismatching file was moved, when one was. */
  backupPath: string | null;
  replaced: number;
  /** The rows were appended without fdatasync (`syncAppend: false`): the caller syncs the file. */
  unsynced: boolean;
}

/** Appends (or, in `update` mode, replaces) the rows of `key`. Serialised per file. */
export function upsertRows(
  csvPath: string,
  header: readonly string[],
  key: string,
  rows: string[][],
  onCsvWrite: OnCsvWrite,
  opts: { syncAppend?: boolean } = {},
): Promise<UpsertResult> {
  return mutex.run(csvPath, async () => {
    const headerLine = csvLine([...header]);
    const newLines = rows.map(csvLine);
    const newHashes = newLines.map(lineHash);
    const sync = opts.syncAppend !== false;
    if (
      onCsvWrite === 'append' &&
      (sync ? await appendFast(csvPath, headerLine, newLines) : appendFastNow(csvPath, headerLine, newLines))
    ) {
      const entry: IndexEntry = { key, op: 'add', rows: newHashes };
      if (sync) await appendLineLoose(indexPathFor(csvPath), JSON.stringify(entry)).catch(() => undefined);
      else {
        try {
          appendLineLooseNow(indexPathFor(csvPath), JSON.stringify(entry));
        } catch {
          // the index may lose lines (see IndexEntry)
        }
      }
      return { path: csvPath, backupPath: null, replaced: 0, unsynced: !sync };
    }
    return rewriteRows(csvPath, header.length, headerLine, key, newLines, newHashes, onCsvWrite);
  });
}

/**
 * The per-cell path: one O_APPEND write + fdatasync, taken only when the file already has our
 * header, at least one data row, and ends with '\n' (else a previous append was torn, or the
 * file is not ours to extend: the rewrite path decides). False when it did not write.
 */
function appendFast(csvPath: string, headerLine: string, newLines: string[]): Promise<boolean> {
  const expectedHead = Buffer.from(`${headerLine}\n`);
  return appendDurable(
    csvPath,
    Buffer.from(`${newLines.join('\n')}\n`),
    expectedHead.length,
    ourFileToExtend(expectedHead),
  );
}

/** appendFast in one synchronous step and without fdatasync (the caller syncs later). */
function appendFastNow(csvPath: string, headerLine: string, newLines: string[]): boolean {
  const expectedHead = Buffer.from(`${headerLine}\n`);
  return appendNow(
    csvPath,
    Buffer.from(`${newLines.join('\n')}\n`),
    expectedHead.length,
    ourFileToExtend(expectedHead),
  );
}

function ourFileToExtend(expectedHead: Buffer): (probe: AppendProbe) => boolean {
  return ({ size, head, lastByte }) => size > expectedHead.length && head.equals(expectedHead) && lastByte === 0x0a;
}

/**
 * A last line without its '\n' is either a complete row someone saved without a final newline
 * (kept, and terminated) or what a power cut left of an append that was never acknowledged:
 * NUL bytes, or fewer fields than the header (dropped: that write never happened for its caller).
 */
function isTornFragment(line: string, fieldsWanted: number): boolean {
  return line.includes('\0') || fieldCount(line) < fieldsWanted;
}

/** The whole-file path: first creation, header change (backup), torn last line, `update`. */
async function rewriteRows(
  csvPath: string,
  fieldsWanted: number,
  headerLine: string,
  key: string,
  newLines: string[],
  newHashes: string[],
  onCsvWrite: OnCsvWrite,
): Promise<UpsertResult> {
  let content: string | null;
  try {
    content = await readIfExists(csvPath);
  } catch (error) {
    throw new DiskWriteError((error as NodeJS.ErrnoException).code ?? 'EUNKNOWN', csvPath, error);
  }
  let backupPath: string | null = null;
  let index = await readIndex(csvPath);
  let lines = content === null ? [] : splitLines(content);
  // calculadorapnav reads the first data row's keys: a different header, or no data row, is not ours to extend.
  if (content !== null && (lines.length < 2 || lines[0] !== headerLine)) {
    backupPath = await backupFile(csvPath);
    lines = [];
    index = new Map();
  }
  // The existing bytes as they are, each line terminated (older rows are never re-serialised).
  let body = content === null || content.endsWith('\n') ? (content ?? '') : `${content}\n`;
  if (content !== null && !content.endsWith('\n') && lines.length > 1) {
    if (isTornFragment(lines[lines.length - 1], fieldsWanted)) {
      lines.pop();
      body = content.slice(0, content.lastIndexOf('\n') + 1);
    }
  }
  let replaced = 0;
  let text: string;
  if (lines.length === 0) {
    text = `${[headerLine, ...newLines].join('\n')}\n`;
    index.set(key, newHashes);
  } else if (onCsvWrite === 'update' && index.get(key)?.length) {
    const wanted = new Set(index.get(key));
    let insertAt = -1;
    const kept: string[] = [];
    for (const line of lines) {
      const hash = lineHash(line);
      if (kept.length > 0 && wanted.has(hash)) {
        wanted.delete(hash);
        if (insertAt < 0) insertAt = kept.length;
        replaced++;
      } else {
        kept.push(line);
      }
    }
    if (insertAt < 0) insertAt = kept.length;
    kept.splice(insertAt, 0, ...newLines);
    text = `${kept.join('\n')}\n`;
    index.set(key, newHashes);
  } else {
    text = `${body}${newLines.join('\n')}\n`;
    index.set(key, onCsvWrite === 'update' ? newHashes : [...(index.get(key) ?? []), ...newHashes]);
  }
  await writeFileAtomic(csvPath, text);
  await writeIndex(csvPath, index);
  return { path: csvPath, backupPath, replaced, unsynced: false };
}
