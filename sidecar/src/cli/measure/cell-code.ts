/**
 * The code `pnav measure` sends for a notebook cell. Every code cell is measured as one run:
 * a cell that already starts with `%%pnav` runs as written (its own options win), any other cell
 * is wrapped in `%%pnav` so it is measured the way the lab would measure it.
 */

const PNAV_MAGIC = /^%%pnav(\s|$)/;
const MAX_LABEL_CHARS = 80;

export interface CellCodeOptions {
  /** `--country` of `pnav measure`: added to a `%%pnav` line that names no country of its own. */
  country?: string;
}

export interface CellCode {
  code: string;
  /** True when the cell was a `%%pnav` cell of the notebook; false when we wrapped it. */
  ownMagic: boolean;
  /** The label we gave a wrapped cell. */
  label?: string;
}

/** IPython drops leading blank lines before looking for a cell magic, so we do too. */
function withoutLeadingBlankLines(source: string): string {
  return source.replace(/^(\s*\n)+/, '');
}

export function isPnavCell(source: string): boolean {
  return PNAV_MAGIC.test(withoutLeadingBlankLines(source));
}

/** The cell's first line as its label: whitespace collapsed, long lines cut; quotes are kept (see quoteLabel). */
export function magicLabel(firstLine: string): string {
  const plain = firstLine.replace(/\s+/g, ' ').trim();
  const label = plain.length > MAX_LABEL_CHARS ? `${plain.slice(0, MAX_LABEL_CHARS - 1)}…` : plain;
  return label === '' ? 'cell' : label;
}

/**
 * The label as one argument of IPython's magic-line splitting, which is not POSIX: a quoted token
 * keeps its quotes (the magic strips one outer pair) and nothing can be escaped inside it. So the
 * label is wrapped in the quote it does not contain; a label with both kinds has its double quotes
 * turned into single ones here, and `pnav measure` sets the exact label through the API afterwards.
 */
export function quoteLabel(label: string): string {
  if (!label.includes('"')) return `"${label}"`;
  if (!label.includes("'")) return `'${label}'`;
  return `"${label.replace(/"/g, "'")}"`;
}

export function cellCode(source: string, firstLine: string, options: CellCodeOptions = {}): CellCode {
  const country = options.country ? ` --country ${options.country}` : '';
  if (isPnavCell(source)) {
    const body = withoutLeadingBlankLines(source);
    const newline = body.indexOf('\n');
    const magicLine = newline === -1 ? body : body.slice(0, newline);
    const rest = newline === -1 ? '' : body.slice(newline);
    const addCountry = country !== '' && !/\s--country(\s|=)/.test(magicLine);
    return { code: `${magicLine}${addCountry ? country : ''}${rest}`, ownMagic: true };
  }
  // --no-save: the notebook never asked for a CSV row of this cell; `pnav measure --csv` writes ours.
  const label = magicLabel(firstLine);
  const magicLine = `%%pnav --label ${quoteLabel(label)} --quiet --no-save${country}`;
  return { code: `${magicLine}\n${source}`, ownMagic: false, label };
}
