/**
 * Reading `%%pnav` cells: is a cell measured, and what is it called.
 *
 * Pure: works on the cell's source text only.
 */

const MAGIC = '%%pnav';
const MAX_LABEL_LENGTH = 80;

/** IPython drops leading blank lines before looking for a cell magic, so do we. */
function lines(source: string): string[] {
  const all = source.split(/\r?\n/);
  let first = 0;
  while (first < all.length && all[first].trim() === '') {
    first++;
  }
  return all.slice(first);
}

/** The `%%pnav ...` line of a measured cell, or null when the cell is not measured. */
export function magicLine(source: string): string | null {
  const [head] = lines(source);
  if (head === undefined || !head.startsWith(MAGIC)) {
    return null;
  }
  const rest = head.slice(MAGIC.length);
  return rest === '' || /^\s/.test(rest) ? head : null;
}

export function isPnavCell(source: string): boolean {
  return magicLine(source) !== null;
}

/** Splits a magic line like a POSIX shell (quotes group words), as IPython's magic_arguments does. */
export function splitArgs(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) {
        quote = null;
      } else if (ch === '\\' && quote === '"' && i + 1 < line.length) {
        current += line[++i];
      } else {
        current += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) {
        words.push(current);
        current = '';
        inWord = false;
      }
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) {
    words.push(current);
  }
  return words;
}

/** The value of a `--name value` or `--name=value` option, or null. */
export function optionValue(args: string[], name: string): string | null {
  const flag = `--${name}`;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && i + 1 < args.length) {
      return args[i + 1];
    }
    if (args[i].startsWith(`${flag}=`)) {
      return args[i].slice(flag.length + 1);
    }
  }
  return null;
}

export interface IPnavCellInfo {
  /** `--label`, else the first non-empty line of the body, else null. */
  label: string | null;
  /** `--epochs N`, when given. */
  nEpoch: number | null;
}

function clip(text: string): string {
  return text.length > MAX_LABEL_LENGTH ? `${text.slice(0, MAX_LABEL_LENGTH - 1)}…` : text;
}

/** What the panel and the line under the cell call a measured cell. Null when the cell is not measured. */
export function pnavCellInfo(source: string): IPnavCellInfo | null {
  const head = magicLine(source);
  if (head === null) {
    return null;
  }
  const args = splitArgs(head.slice(MAGIC.length));
  const epochs = optionValue(args, 'epochs');
  const nEpoch = epochs !== null && /^\d+$/.test(epochs) ? Number(epochs) : null;
  const explicit = optionValue(args, 'label');
  if (explicit !== null && explicit.trim() !== '') {
    return { label: clip(explicit.trim()), nEpoch };
  }
  const body = lines(source)
    .slice(1)
    .map(line => line.trim())
    .find(line => line !== '');
  return { label: body === undefined ? null : clip(body), nEpoch };
}
