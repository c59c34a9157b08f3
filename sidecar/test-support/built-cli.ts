/** The built `pnav` CLI for tests that spawn it; builds dist/ when missing or older than a source file. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIDECAR_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(SIDECAR_DIR, 'dist', 'cli.js');

function newestSource(dir: string): number {
  return Math.max(
    0,
    ...fs.readdirSync(dir, { withFileTypes: true }).map(e => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0;
    }),
  );
}

export function ensureBuilt(): void {
  if (fs.existsSync(CLI) && fs.statSync(CLI).mtimeMs >= newestSource(path.join(SIDECAR_DIR, 'src'))) return;
  const tsc = path.join(SIDECAR_DIR, '..', 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: SIDECAR_DIR, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sidecar build failed:\n${r.stdout}${r.stderr}`);
}
