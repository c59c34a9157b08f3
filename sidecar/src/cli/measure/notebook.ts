/**
 * Reading a notebook (nbformat 4) and listing the code cells `pnav measure` will run.
 * Only the fields we use are validated; everything else in the file is kept as is so the
 * executed notebook round-trips the user's metadata.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** nbformat stores multi-line strings either as one string or as a list of lines. */
const MultilineSchema = z.union([z.string(), z.array(z.string())]);

const CellSchema = z.looseObject({
  cell_type: z.string(),
  id: z.string().optional(),
  source: MultilineSchema,
  metadata: z.record(z.string(), z.unknown()).default({}),
});

export const NotebookSchema = z.looseObject({
  nbformat: z.literal(4, 'only nbformat 4 notebooks are supported'),
  nbformat_minor: z.number().int(),
  metadata: z.record(z.string(), z.unknown()).default({}),
  cells: z.array(CellSchema),
});
export type Notebook = z.infer<typeof NotebookSchema>;
export type NotebookCell = Notebook['cells'][number];

export interface CodeCell {
  /** Position among all cells of the notebook (0-based): the key back into `notebook.cells`. */
  index: number;
  /** 1-based number among code cells, as shown in the table. */
  number: number;
  /** The cell's nbformat id; notebooks older than nbformat 4.5 have none, so one is derived. */
  cellId: string;
  source: string;
  firstLine: string;
}

export class NotebookError extends Error {}

export function joinSource(source: string | string[]): string {
  return Array.isArray(source) ? source.join('') : source;
}

/** The first line that says something: blank lines and a leading `%%pnav` line are skipped. */
export function firstLineOf(source: string): string {
  const lines = source.split('\n').map(line => line.trim());
  const meaningful = lines.filter(line => line !== '' && !line.startsWith('%%pnav'));
  return meaningful[0] ?? lines.find(line => line !== '') ?? '';
}

export function parseNotebook(text: string, path: string): Notebook {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new NotebookError(`${path}: not a JSON notebook (${(error as Error).message})`);
  }
  const parsed = NotebookSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NotebookError(`${path}: ${issue.path.join('.') || 'notebook'}: ${issue.message}`);
  }
  return parsed.data;
}

export async function readNotebook(path: string): Promise<Notebook> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new NotebookError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return parseNotebook(text, path);
}

/** The code cells in order, empty ones included (the runner skips them and says so). */
export function codeCells(notebook: Notebook): CodeCell[] {
  const cells: CodeCell[] = [];
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code') return;
    const source = joinSource(cell.source);
    cells.push({
      index,
      number: cells.length + 1,
      cellId: cell.id ?? `cell-${index}`,
      source,
      firstLine: firstLineOf(source),
    });
  });
  return cells;
}

/** The kernel the notebook asks for (metadata.kernelspec.name), if any. */
export function notebookKernelName(notebook: Notebook): string | undefined {
  const spec = notebook.metadata.kernelspec as { name?: unknown } | undefined;
  return typeof spec?.name === 'string' ? spec.name : undefined;
}
