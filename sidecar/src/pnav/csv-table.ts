/**
 * One CSV file with a fixed header, written the calculadorapnav way (§2.4) but safely:
 * - a file whose header differs, or that holds no data row, is kept under calculadorapnav's
 *   backup names (`X.csv.bak`, then `X.csv_0.bak`, `X.csv_1.bak`, …) and a new file is started;
 * - `append` adds rows after the existing bytes, never re-serialising older rows;
 * - `update` replaces the rows previously written for the same key (our run id), found
 *   through a small index file next to the CSV, and appends when there are none;
 * - every write replaces the whole file atomically (see atomic-file.ts).
 */
import { createHash } from 'node:crypto';
import { readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { DiskWriteError, KeyedMutex, writeFileAtomic } from './atomic-file.js';

export type OnCsvWrite = 'append' | 'update';

interface RowIndex {
  version: 1;
  /** key (run id) → sha256 of each CSV line written for it, in file order. */
  rows: Record<string, string[]>;
}

const mutex = new KeyedMutex();

/** The index that makes `update` work: calculadorapnav's 40 columns carry no run id. */
export function indexPathFor(csvPath: string): string {
  return path.join(path.dirname(csvPath), `.${path.basename(csvPath)}.pnav-index.json`);
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

async function readIndex(csvPath: string): Promise<RowIndex> {
  const text = await readIfExists(indexPathFor(csvPath)).catch(() => null);
  if (!text) return { version: 1, rows: {} };
  try {
    const parsed = JSON.parse(text) as RowIndex;
    return parsed?.version === 1 && typeof parsed.rows === 'object' ? parsed : { version: 1, rows: {} };
  } catch {
    return { version: 1, rows: {} }; // a damaged index only costs `update` its memory
  }
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
}

/** Appends (or, in `update` mode, replaces) the rows of `key`. Serialised per file. */
export function upsertRows(
  csvPath: string,
  header: readonly string[],
  key: string,
  rows: string[][],
  onCsvWrite: OnCsvWrite,
): Promise<UpsertResult> {
  return mutex.run(csvPath, async () => {
    const headerLine = csvLine([...header]);
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
      index = { version: 1, rows: {} };
    }
    const newLines = rows.map(csvLine);
    const newHashes = newLines.map(lineHash);
    let replaced = 0;
    if (lines.length === 0) {
      lines = [headerLine, ...newLines];
    } else if (onCsvWrite === 'update' && index.rows[key]?.length) {
      const wanted = new Set(index.rows[key]);
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
      lines = kept;
    } else {
      // Append: keep every existing byte as it is and add the new rows after it.
      const body = content!.endsWith('\n') ? content! : `${content}\n`;
      await writeFileAtomic(csvPath, `${body}${newLines.join('\n')}\n`);
      index.rows[key] = onCsvWrite === 'update' ? newHashes : [...(index.rows[key] ?? []), ...newHashes];
      await writeFileAtomic(indexPathFor(csvPath), JSON.stringify(index));
      return { path: csvPath, backupPath, replaced };
    }
    await writeFileAtomic(csvPath, `${lines.join('\n')}\n`);
    index.rows[key] = newHashes;
    await writeFileAtomic(indexPathFor(csvPath), JSON.stringify(index));
    return { path: csvPath, backupPath, replaced };
  });
}
