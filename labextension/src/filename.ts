/** File names for downloads. Pure. */
import type { ExportFormat } from './types';

const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', json: 'json', boamps: 'boamps.json' };

/** The name from a `Content-Disposition` header (`filename*=` first), or null. */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (extended) {
    try {
      return safeName(decodeURIComponent(extended[1].trim()));
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(header);
  return plain ? safeName(plain[1].trim()) : null;
}

/** No directories, no control characters. */
function safeName(name: string): string | null {
  const base =
    name
      .split(/[\\/]/)
      .pop()
      ?.split('')
      .filter(ch => ch.charCodeAt(0) >= 0x20)
      .join('') ?? '';
  return base === '' || base === '.' || base === '..' ? null : base;
}

/** `pnav-<notebook stem>-<yyyymmdd-hhmmss>.<ext>` when the server names nothing. */
export function defaultExportName(format: ExportFormat, notebookPath: string | null, now = new Date()): string {
  const stem = (notebookPath ?? 'runs')
    .split('/')
    .pop()!
    .replace(/\.ipynb$/, '')
    .replace(/[^\w.-]+/g, '_');
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `pnav-${stem}-${stamp}.${EXTENSIONS[format]}`;
}

/**
 * The file name of an export: the notebook's name and the record type, e.g.
 * `pnav-demo-training.boamps.json`, `pnav-demo-training-inference.csv` for a mixed CSV.
 */
export function exportName(format: ExportFormat, notebookPath: string | null, recordTypes: readonly string[]): string {
  const stem = (notebookPath ?? 'pnav-runs')
    .split('/')
    .pop()!
    .replace(/\.ipynb$/, '')
    .replace(/[^\w.-]+/g, '_');
  const kind = recordTypes.length > 0 ? [...recordTypes].sort().reverse().join('-') : 'runs';
  return `${stem}-${kind}.${EXTENSIONS[format]}`;
}
